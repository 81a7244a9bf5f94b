"""Hosted Tidings accounts (the home app) from Python: sign in, get a
UserSig, connect with it like any app's user.

    from tidings.sdk import HomeAccounts

    async with HomeAccounts("http://127.0.0.1:8080") as home:
        await home.request_code("email", "ana@example.org")
        signed_in = await home.sign_in_code("email", "ana@example.org", "042917")
        async with home.client(signed_in) as ana:
            await ana.send_text("c2c_hq3k7c2mz5xw4a1bd", "hi")
        await home.sign_out(signed_in)

Refusals raise :class:`TidingsError` with the server's code (e.g.
``HOME_BAD_CREDENTIALS``); limits carry ``details["retry_after"]`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.sdk.client import Client

ChannelName = Literal["email", "phone"]


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A home sign-in: connect as ``user_id`` of app ``sdkappid`` with
    ``usersig`` until ``expires_at`` (ms since the epoch)."""

    sdkappid: int
    user_id: str
    usersig: str
    expires_at: int
    session_id: str
    # True when this sign-in made the account.
    created: bool


def _error(answer: httpx.Response) -> TidingsError:
    try:
        doc = answer.json()["error"]
        code = ErrorCode(int(doc["code"]))
        details = {k: v for k, v in doc.items() if k not in ("code", "name", "message")}
        return TidingsError(code, str(doc["message"]), details or None)
    except (ValueError, KeyError, TypeError):
        return TidingsError(ErrorCode.INTERNAL,
                            f"unexpected answer {answer.status_code}: {answer.text[:200]!r}")


class HomeAccounts:
    """The REST calls of docs/home-accounts.md#rest-endpoints."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def __aenter__(self) -> HomeAccounts:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
                    usersig: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {usersig}"} if usersig is not None else None
        answer = await self._http.request(method, path, json=body, headers=headers)
        if answer.status_code != 200:
            raise _error(answer)
        doc: dict[str, Any] = answer.json()
        return doc

    async def _sign_in(self, path: str, body: dict[str, Any]) -> SignedIn:
        doc = await self._call("POST", path, body)
        return SignedIn(doc["sdkappid"], doc["user_id"], doc["usersig"], doc["expires_at"],
                        doc["session_id"], doc["created"])

    async def app(self) -> dict[str, Any]:
        """The home app: ``sdkappid``, ``name``, ``icon_url``."""
        return await self._call("GET", "/v1/home")

    async def register(self, username: str, password: str) -> SignedIn:
        return await self._sign_in("/v1/home/register",
                                   {"username": username, "password": password})

    async def sign_in_password(self, username: str, password: str) -> SignedIn:
        return await self._sign_in("/v1/home/sign-in/password",
                                   {"username": username, "password": password})

    async def request_code(self, channel: ChannelName, address: str) -> dict[str, Any]:
        """Send a one-time code to the address (the answer never has it)."""
        return await self._call("POST", "/v1/home/codes",
                                {"channel": channel, "address": address})

    async def sign_in_code(self, channel: ChannelName, address: str, code: str) -> SignedIn:
        """Spend the code; the first time, this makes the account."""
        return await self._sign_in("/v1/home/sign-in/code",
                                   {"channel": channel, "address": address, "code": code})

    async def sign_out(self, signed_in: SignedIn) -> dict[str, Any]:
        return await self._call("POST", "/v1/home/sign-out", usersig=signed_in.usersig)

    async def sign_out_everywhere(self, signed_in: SignedIn) -> dict[str, Any]:
        return await self._call("POST", "/v1/home/sign-out-everywhere",
                                usersig=signed_in.usersig)

    async def sessions(self, signed_in: SignedIn) -> list[dict[str, Any]]:
        """The account's live sign-ins, newest first (``current``: this one)."""
        reply = await self._call("GET", "/v1/home/sessions", usersig=signed_in.usersig)
        sessions: list[dict[str, Any]] = reply["sessions"]
        return sessions

    async def sign_out_session(self, signed_in: SignedIn, session_id: str) -> dict[str, Any]:
        """Sign out one session of the account (a lost phone)."""
        return await self._call("DELETE", f"/v1/home/sessions/{quote(session_id, safe='')}",
                                usersig=signed_in.usersig)

    async def me(self, signed_in: SignedIn) -> dict[str, Any]:
        return await self._call("GET", "/v1/home/me", usersig=signed_in.usersig)

    async def update_me(self, signed_in: SignedIn, *, display_name: str | None = None,
                        avatar_url: str | None = None, username: str | None = None
                        ) -> dict[str, Any]:
        fields = {k: v for k, v in (("display_name", display_name),
                                    ("avatar_url", avatar_url), ("username", username))
                  if v is not None}
        return await self._call("PATCH", "/v1/home/me", fields, usersig=signed_in.usersig)

    async def change_password(self, signed_in: SignedIn, new_password: str,
                              current_password: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"new_password": new_password}
        if current_password is not None:
            body["current_password"] = current_password
        return await self._call("POST", "/v1/home/password", body, usersig=signed_in.usersig)

    async def find(self, signed_in: SignedIn, username: str) -> dict[str, Any]:
        """The public card of a username."""
        return await self._call("GET", f"/v1/home/users/{quote(username, safe='')}",
                                usersig=signed_in.usersig)

    async def request_address_code(self, signed_in: SignedIn, channel: ChannelName,
                                   address: str) -> dict[str, Any]:
        """Send a code to an address to add it to this account."""
        return await self._call("POST", "/v1/home/addresses/codes",
                                {"channel": channel, "address": address},
                                usersig=signed_in.usersig)

    async def add_address(self, signed_in: SignedIn, channel: ChannelName, address: str,
                          code: str) -> dict[str, Any]:
        """Spend that code: the address is the account's (``replaced``: the
        earlier one of that kind). ``HOME_ADDRESS_TAKEN`` when another
        account has it."""
        return await self._call("POST", "/v1/home/addresses",
                                {"channel": channel, "address": address, "code": code},
                                usersig=signed_in.usersig)

    async def remove_address(self, signed_in: SignedIn, channel: ChannelName
                             ) -> dict[str, Any]:
        """``HOME_LAST_SIGN_IN_METHOD`` when it is the only way to sign in."""
        return await self._call("DELETE", f"/v1/home/addresses/{channel}",
                                usersig=signed_in.usersig)

    async def request_password_reset(self, channel: ChannelName, address: str
                                     ) -> dict[str, Any]:
        """A reset code to the address, if an account has it (the answer is
        the same either way)."""
        return await self._call("POST", "/v1/home/password-reset/codes",
                                {"channel": channel, "address": address})

    async def reset_password(self, channel: ChannelName, address: str, code: str,
                             new_password: str) -> SignedIn:
        """Set a new password with the reset code: every other sign-in of
        the account ends; this answers a new one."""
        return await self._sign_in("/v1/home/password-reset",
                                   {"channel": channel, "address": address, "code": code,
                                    "new_password": new_password})

    async def request_deletion_code(self, signed_in: SignedIn, channel: ChannelName
                                    ) -> dict[str, Any]:
        """For an account without a password: a code to its own address."""
        return await self._call("POST", "/v1/home/me/deletion-codes", {"channel": channel},
                                usersig=signed_in.usersig)

    async def delete_account(self, signed_in: SignedIn, *, password: str | None = None,
                             channel: ChannelName | None = None, code: str | None = None
                             ) -> dict[str, Any]:
        """Delete the account: ``password`` when it has one, else ``channel``
        and the deletion ``code``."""
        body = {k: v for k, v in (("password", password), ("channel", channel),
                                  ("code", code)) if v is not None}
        return await self._call("DELETE", "/v1/home/me", body, usersig=signed_in.usersig)

    def client(self, signed_in: SignedIn, **options: Any) -> Client:
        """A :class:`Client` of the home app for this sign-in (options as
        ``Client``'s); the WebSocket URL is the base URL's ``/v1/ws``."""
        ws_url = "ws" + self.base_url.removeprefix("http") + "/v1/ws"
        return Client(ws_url, signed_in.sdkappid, signed_in.user_id, signed_in.usersig,
                      **options)
