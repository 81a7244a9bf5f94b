"""What an app's admin does to its accounts: import, check, delete, disable,
enable, kick, and who is online. Every call is within the caller's own app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tidings.bus.local import LocalBus
from tidings.domain.accounts import MAX_BATCH, AccountImport, AccountState, CloseCode
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity, check_user_id
from tidings.domain.profiles import MAX_TEXT_BYTES
from tidings.services.auth import Authenticator
from tidings.store.accounts import AccountStore


def check_user_ids(user_ids: Sequence[str], field: str) -> list[str]:
    if not 1 <= len(user_ids) <= MAX_BATCH:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"{field}: between 1 and {MAX_BATCH} user ids")
    for i, user_id in enumerate(user_ids):
        try:
            check_user_id(user_id)
        except TidingsError as exc:
            raise TidingsError(exc.code, f"{field}[{i}]: {exc.message}") from exc
    # Once each, in the order given.
    return list(dict.fromkeys(user_ids))


class AccountService:
    def __init__(self, store: AccountStore, auth: Authenticator, bus: LocalBus) -> None:
        self._store = store
        self._auth = auth
        self._bus = bus
        # Set by the runtime: what else an admin's delete removes (the home
        # app's hosted sign-in, links). It runs before the state changes, so
        # a crash between the two leaves a delete that can simply be re-run.
        self.before_delete: Callable[[int, list[str]], Awaitable[None]] | None = None

    async def import_accounts(self, sdkappid: int, accounts: Sequence[AccountImport]
                              ) -> list[dict[str, Any]]:
        """Checked whole before anything is written: one bad entry changes nothing."""
        ids = check_user_ids([a.user_id for a in accounts], "accounts")
        if len(ids) != len(accounts):
            raise TidingsError(ErrorCode.INVALID_REQUEST, "accounts: a user id appears twice")
        for i, acc in enumerate(accounts):
            for field, value in (("nickname", acc.nickname), ("avatar_url", acc.avatar_url)):
                if value is not None and len(value.encode()) > MAX_TEXT_BYTES:
                    raise TidingsError(ErrorCode.INVALID_REQUEST,
                                       f"accounts[{i}].{field}: at most {MAX_TEXT_BYTES} "
                                       "bytes of UTF-8")
        created = await self._store.import_accounts(sdkappid, accounts)
        # A deleted account may have come back.
        self._auth.forget([Identity(sdkappid, a.user_id) for a in accounts])
        return [{"user_id": a.user_id, "result": "created" if new else "updated"}
                for a, new in zip(accounts, created, strict=True)]

    async def check(self, sdkappid: int, user_ids: Sequence[str]) -> dict[str, list[str]]:
        ids = check_user_ids(user_ids, "user_ids")
        found = await self._store.existing(sdkappid, ids)
        return {"existing": [u for u in ids if u in found],
                "missing": [u for u in ids if u not in found]}

    async def list_accounts(self, sdkappid: int, *, after: str = "", limit: int = 100,
                            state: str | None = None, prefix: str = "") -> dict[str, Any]:
        """The app's accounts by user id, a page at a time: each with its
        state, nickname, when it was created and when it last logged in
        (null: never). ``next`` is the ``after`` of the next page (null: the
        last page)."""
        if not 1 <= limit <= 1000:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "limit: between 1 and 1000")
        if state is not None and state not in AccountState.__members__.values():
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"state: one of {', '.join(s.value for s in AccountState)}")
        found = await self._store.page(sdkappid, after=after, limit=limit + 1,
                                       state=None if state is None else AccountState(state),
                                       prefix=prefix)
        more = len(found) > limit
        found = found[:limit]
        return {"users": found, "next": found[-1]["user_id"] if more else None}

    async def delete(self, sdkappid: int, user_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Deleted accounts cannot log in and lose their sessions; their
        messages stay. Importing one again brings it back."""
        ids = check_user_ids(user_ids, "user_ids")
        if self.before_delete is not None:
            await self.before_delete(sdkappid, ids)
        found = await self._store.set_state(sdkappid, ids, AccountState.DELETED)
        self._end(sdkappid, sorted(found), CloseCode.ACCOUNT_DELETED, "account deleted")
        return [{"user_id": u, "result": "deleted" if u in found else "not_found"}
                for u in ids]

    async def set_enabled(self, sdkappid: int, user_id: str, enabled: bool) -> dict[str, Any]:
        check_user_id(user_id)
        state = AccountState.ACTIVE if enabled else AccountState.DISABLED
        found = await self._store.set_state(sdkappid, [user_id], state)
        if not found:
            raise TidingsError(ErrorCode.NOT_FOUND, f"no account {user_id!r} in this app")
        closed = 0
        if enabled:
            self._auth.forget([Identity(sdkappid, user_id)])
        else:
            closed = self._end(sdkappid, [user_id], CloseCode.ACCOUNT_DISABLED,
                               "account disabled")
        return {"user_id": user_id, "state": state.value, "sessions_closed": closed}

    async def kick(self, sdkappid: int, user_id: str) -> dict[str, Any]:
        """End every session, and refuse every ticket issued before now
        (see domain.accounts.ticket_still_valid for the one-second rule)."""
        check_user_id(user_id)
        at = now_ms()
        if not await self._store.kick(sdkappid, user_id, at):
            raise TidingsError(ErrorCode.NOT_FOUND, f"no account {user_id!r} in this app")
        closed = self._end(sdkappid, [user_id], CloseCode.KICKED, "kicked")
        return {"user_id": user_id, "sessions_closed": closed, "sessions_valid_after": at}

    def online(self, sdkappid: int, user_id: str) -> dict[str, Any]:
        check_user_id(user_id)
        devices = self._bus.describe_devices(Identity(sdkappid, user_id))
        return {"user_id": user_id, "online": bool(devices), "devices": devices}

    def _end(self, sdkappid: int, user_ids: list[str], code: CloseCode, reason: str) -> int:
        identities = [Identity(sdkappid, u) for u in user_ids]
        # Forget first: a login racing with us reads the new state.
        self._auth.forget(identities)
        return sum(self._bus.disconnect_all(i, int(code), reason) for i in identities)
