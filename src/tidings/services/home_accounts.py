"""Hosted accounts of the home app (issue 5): register and sign in with a
username and password, or with a one-time code sent to an e-mail address or
a phone number (the first code sign-in registers); sign out one session or
all; profile and password.

A sign-in answers a UserSig of the home app, signed here with the home app's
key like any app server would, whose userbuf names a row of
``home_sessions``: that row is what sign-out revokes (the Authenticator asks
:meth:`HomeAccountService.check_ticket` at every login and REST call).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from tidings.adapters.home_passwords import Passwords
from tidings.adapters.home_senders import CodeMessage, CodeSender, SendFailed
from tidings.bus.local import LocalBus
from tidings.config import Settings
from tidings.domain import usersig
from tidings.domain.accounts import CloseCode
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.home_accounts import (
    Channel,
    CodePurpose,
    check_code_shape,
    check_password,
    code_digest,
    new_code,
    new_session_id,
    normalize_address,
    normalize_username,
    purpose_digest,
    session_of_userbuf,
    session_userbuf,
)
from tidings.domain.ids import Identity
from tidings.domain.profiles import ProfilePatch
from tidings.services.accounts import AccountService
from tidings.services.apps import AppRegistry
from tidings.services.auth import Authenticator
from tidings.services.profiles import ProfileService
from tidings.store.home_accounts import HomeAccount, HomeAccountStore, UsernameTaken
from tidings.store.rate_limits import RateCounter

log = logging.getLogger(__name__)

SECOND_MS = 1000
# Every this many counted hits, this process deletes stale counters and codes.
PRUNE_EVERY = 1000


@dataclass(frozen=True, slots=True)
class Caller:
    """A home account signed in: who, and through which session."""

    user_id: str
    session_id: str | None


def _retry_after(resets_at: int, now: int) -> dict[str, object]:
    return {"retry_after": max(1, -(-(resets_at - now) // SECOND_MS))}


class HomeAccountService:
    def __init__(self, store: HomeAccountStore, counter: RateCounter, passwords: Passwords,
                 senders: dict[Channel, CodeSender], apps: AppRegistry, auth: Authenticator,
                 accounts: AccountService, profiles: ProfileService, bus: LocalBus,
                 settings: Settings, home_sdkappid: int) -> None:
        self._store = store
        self._counter = counter
        self._passwords = passwords
        self._senders = senders
        self._apps = apps
        self._auth = auth
        self._accounts = accounts
        self._profiles = profiles
        self._bus = bus
        self._s = settings
        self.home_sdkappid = home_sdkappid
        self._hits = 0
        # Codes being sent after their answer went (send_code in_background).
        self._sending: set[asyncio.Task[None]] = set()

    # -- limits --------------------------------------------------------------

    async def limit(self, key: str, limit: int, window_s: int, now: int,
                    code: ErrorCode = ErrorCode.RATE_LIMITED, what: str = "") -> None:
        hit = await self._counter.hit(key, window_s * SECOND_MS, now)
        self._hits += 1
        if self._hits % PRUNE_EVERY == 0:
            await self._prune(now)
        if hit.hits > limit:
            raise TidingsError(code, what or "too many attempts; try again later",
                               _retry_after(hit.resets_at, now))

    async def _prune(self, now: int) -> None:
        s = self._s
        longest = max(s.home_rate_window, s.home_lockout_seconds, s.home_code_resend_after)
        await self._counter.prune(now - longest * SECOND_MS)
        await self._store.prune_codes(now)

    async def per_ip(self, client_ip: str, now: int) -> None:
        await self.limit(f"home:ip:{client_ip}", self._s.home_attempts_per_ip,
                         self._s.home_rate_window, now,
                         what="too many sign-in attempts from this address; try again later")

    # -- signing in ------------------------------------------------------------

    async def issue_sign_in(self, user_id: str, method: str, client_ip: str, now: int,
                           created: bool) -> dict[str, Any]:
        app = await self._apps.get(self.home_sdkappid)
        if not app.live_keys:
            raise TidingsError(ErrorCode.SERVICE_UNAVAILABLE, "the home app has no live key")
        session_id = new_session_id()
        lifetime = self._s.home_ticket_lifetime
        issued_at = now // SECOND_MS
        expires_at = (issued_at + lifetime) * SECOND_MS
        # The row first: a ticket must never exist without its session.
        await self._store.add_session(session_id, user_id, method, client_ip, now, expires_at)
        ticket = usersig.sign(self.home_sdkappid, app.live_keys[-1], user_id, lifetime,
                              now=issued_at, userbuf=session_userbuf(session_id))
        return {"sdkappid": self.home_sdkappid, "user_id": user_id, "usersig": ticket,
                "expires_at": expires_at, "session_id": session_id, "created": created}

    async def register(self, username: str, password: str, client_ip: str) -> dict[str, Any]:
        """A new account with a username (its public handle) and a password;
        answers signed in."""
        now = now_ms()
        name = normalize_username(username)
        check_password(password, name)
        await self.per_ip(client_ip, now)
        hashed = await self._passwords.hash(password)
        try:
            user_id = await self._store.create_with_password(name, hashed, now_ms())
        except UsernameTaken:
            raise TidingsError(ErrorCode.HOME_USERNAME_TAKEN,
                               f"the username {name!r} is taken") from None
        return await self.issue_sign_in(user_id, "password", client_ip, now_ms(), True)

    async def sign_in_password(self, username: str, password: str, client_ip: str
                               ) -> dict[str, Any]:
        """Unknown username and wrong password answer the same, after the
        same work (one argon2 verification); the lock-out counts tries per
        username whether it exists or not, so it tells nothing either."""
        now = now_ms()
        try:
            name = normalize_username(username)
        except TidingsError:
            name = None
        user_key = f"home:pw:{name}"
        if name is not None:
            await self.limit(user_key, self._s.home_password_tries,
                             self._s.home_lockout_seconds, now, ErrorCode.HOME_LOCKED_OUT,
                             "too many password tries for this username; sign in with a "
                             "code, or try again later")
        await self.per_ip(client_ip, now)
        account = await self._store.by_username(name) if name is not None else None
        stored = account.password_hash if account is not None else None
        if not await self._passwords.verify(stored, password[:4096]) or account is None:
            raise TidingsError(ErrorCode.HOME_BAD_CREDENTIALS, "wrong username or password")
        await self._counter.clear(user_key)
        if stored is not None and self._passwords.needs_rehash(stored):
            await self._store.set_password(account.user_id,
                                           await self._passwords.hash(password), now_ms())
        return await self.issue_sign_in(account.user_id, "password", client_ip, now_ms(), False)

    async def request_code(self, channel: Channel, address: str, client_ip: str
                           ) -> dict[str, Any]:
        """Send a code. The answer is the same whether an account has the
        address or not (the first code sign-in registers anyway)."""
        addr = normalize_address(channel, address)
        return await self.send_code(channel, addr, CodePurpose.SIGN_IN, client_ip)

    async def send_code(self, channel: Channel, addr: str, purpose: CodePurpose,
                        client_ip: str, user_id: str = "", *, deliver: bool = True,
                        in_background: bool = False) -> dict[str, Any]:
        """Limit, store and send a code of any purpose to a normalized
        address (bound to ``user_id`` when a signed-in account asks). The
        per-address and per-client counters are shared by all purposes; the
        resend gap is per purpose. ``deliver`` False stores the code but
        sends nothing (an address of no account, asked for a reset);
        ``in_background`` answers before the sender is done, so that the
        answer's timing does not tell whether anything was sent."""
        now = now_ms()
        s = self._s
        if s.home_code_resend_after > 0:
            gap = (f"home:code-gap:{channel.value}:{addr}" if purpose is CodePurpose.SIGN_IN
                   else f"home:code-gap:{purpose.value}:{channel.value}:{addr}")
            await self.limit(gap, 1, s.home_code_resend_after, now,
                             what="a code was just sent to this address; wait before "
                             "asking again")
        await self.limit(f"home:code-addr:{channel.value}:{addr}", s.home_codes_per_address,
                         s.home_rate_window, now,
                         what="too many codes for this address; try again later")
        await self.limit(f"home:code-ip:{client_ip}", s.home_codes_per_ip,
                         s.home_rate_window, now,
                         what="too many codes asked from this client address; try again later")
        code = new_code()
        expires_at = now + s.home_code_lifetime * SECOND_MS
        await self._store.put_code(channel, addr,
                                   purpose_digest(purpose, channel, addr, code, user_id),
                                   s.home_code_tries, now, expires_at, purpose)
        answer = {"sent": True, "expires_in": s.home_code_lifetime,
                  "resend_after": s.home_code_resend_after}
        app = await self._apps.get(self.home_sdkappid)
        message = CodeMessage(channel, addr, code, s.home_code_lifetime, app.name, purpose)
        if not deliver:
            return answer
        if in_background:
            task = asyncio.create_task(self._send_logged(message))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            return answer
        try:
            await self._senders[channel].send(message)
        except SendFailed as exc:
            log.warning("home %s code not sent: %s", purpose.value, exc)
            raise TidingsError(ErrorCode.HOME_SEND_FAILED,
                               f"the code could not be sent ({channel.value}); try again "
                               "later") from exc
        return answer

    async def _send_logged(self, message: CodeMessage) -> None:
        try:
            await self._senders[message.channel].send(message)
        except SendFailed as exc:
            log.warning("home %s code not sent: %s", message.purpose.value, exc)

    async def sign_in_code(self, channel: Channel, address: str, code: str, client_ip: str
                           ) -> dict[str, Any]:
        """Spend the address's code: signs in, or registers on first use."""
        now = now_ms()
        addr = normalize_address(channel, address)
        check_code_shape(code)
        await self.per_ip(client_ip, now)
        digest = code_digest(channel, addr, code)
        found = await self._store.by_address(channel, addr)
        user_id = await self._store.use_code(channel, addr, digest, now)
        if user_id is None:
            raise TidingsError(ErrorCode.HOME_CODE_INVALID,
                               "wrong or expired code; ask for a new one after a few tries")
        return await self.issue_sign_in(user_id, channel.value, client_ip, now_ms(), found is None)

    # -- the signed-in account -------------------------------------------------

    async def check_ticket(self, identity: Identity, userbuf: bytes) -> None:
        """The Authenticator's hook: a home ticket from a sign-in is good
        only while its session is neither revoked nor expired."""
        if identity.sdkappid != self.home_sdkappid:
            return
        session_id = session_of_userbuf(userbuf)
        if session_id is None:
            return
        found = await self._store.session(session_id)
        if found is None or found.user_id != identity.user_id or found.revoked_at is not None:
            raise TidingsError(ErrorCode.USERSIG_REVOKED,
                               "this UserSig was signed out; sign in again")

    def caller(self, identity: Identity, ticket: str) -> Caller:
        """The home account behind an already checked ticket."""
        if identity.sdkappid != self.home_sdkappid:
            raise TidingsError(ErrorCode.USERSIG_APP_MISMATCH,
                               "this needs a UserSig of the home app (a home sign-in)")
        return Caller(identity.user_id, session_of_userbuf(usersig.parse(ticket).userbuf))

    async def account_of(self, caller: Caller) -> HomeAccount:
        account = await self._store.by_user_id(caller.user_id)
        if account is None:
            raise TidingsError(ErrorCode.NOT_FOUND,
                               "this identity of the home app is not a hosted account")
        return account

    def close_sessions(self, user_id: str, session_ids: list[str]) -> int:
        """Close the sockets logged in with these sessions' tickets."""
        wanted = {session_userbuf(s) for s in session_ids}
        identity = Identity(self.home_sdkappid, user_id)
        # A login racing with us checks again (the epoch moved) and meets
        # the revoked row.
        self._auth.forget([identity])
        closing = [d for d in self._bus.devices(identity)
                   if getattr(d, "ticket_userbuf", None) in wanted]
        for device in closing:
            device.disconnect(int(CloseCode.KICKED), "signed out")
        return len(closing)

    async def sign_out(self, caller: Caller) -> dict[str, Any]:
        if caller.session_id is None:
            raise TidingsError(ErrorCode.HOME_NOT_A_SESSION,
                               "this UserSig did not come from a home sign-in; nothing to "
                               "sign out")
        await self._store.revoke_session(caller.session_id, now_ms())
        closed = self.close_sessions(caller.user_id, [caller.session_id])
        return {"signed_out": True, "sessions_closed": closed}

    async def sign_out_everywhere(self, caller: Caller) -> dict[str, Any]:
        """Every ticket issued until now stops working (the account's
        ``sessions_valid_after``, as an admin's kick), every socket closes."""
        await self.account_of(caller)
        await self._store.revoke_sessions(caller.user_id, now_ms())
        kicked = await self._accounts.kick(self.home_sdkappid, caller.user_id)
        return {"signed_out": True, "sessions_closed": kicked["sessions_closed"]}

    async def sessions(self, caller: Caller) -> dict[str, Any]:
        """The account's live sign-ins, the caller's own marked ``current``,
        so that a person can tell a forgotten device from this one."""
        await self.account_of(caller)
        rows = await self._store.live_sessions(caller.user_id, now_ms())
        return {"sessions": [{
            "session_id": r.id, "method": r.method, "client_ip": r.client_ip,
            "created_at": r.created_at, "expires_at": r.expires_at,
            "current": r.id == caller.session_id} for r in rows]}

    async def sign_out_session(self, caller: Caller, session_id: str) -> dict[str, Any]:
        """Revoke one live session of the caller's account (this one too).
        Another account's session, or one that ended, is not found: the
        answer never tells whether a session id exists elsewhere."""
        live = await self._store.live_sessions(caller.user_id, now_ms())
        if session_id not in {r.id for r in live}:
            raise TidingsError(ErrorCode.NOT_FOUND, "no live session of yours has this id")
        await self._store.revoke_session(session_id, now_ms())
        closed = self.close_sessions(caller.user_id, [session_id])
        return {"signed_out": True, "sessions_closed": closed}

    async def me(self, caller: Caller) -> dict[str, Any]:
        """The account as its owner sees it (e-mail and phone included)."""
        account = await self.account_of(caller)
        profile = await self._profiles.get_one(self.home_sdkappid, caller.user_id)
        return {"user_id": account.user_id, "username": account.username,
                "email": account.email, "phone": account.phone,
                "has_password": account.password_hash is not None,
                "display_name": profile.get("nickname", ""),
                "avatar_url": profile.get("avatar_url", ""),
                "created_at": account.created_at}

    async def update_me(self, caller: Caller, display_name: str | None,
                        avatar_url: str | None, username: str | None) -> dict[str, Any]:
        account = await self.account_of(caller)
        if username is not None:
            name = normalize_username(username)
            if name != account.username:
                try:
                    await self._store.set_username(caller.user_id, name, now_ms())
                except UsernameTaken:
                    raise TidingsError(ErrorCode.HOME_USERNAME_TAKEN,
                                       f"the username {name!r} is taken") from None
        fields: dict[str, str] = {}
        if display_name is not None:
            fields["nickname"] = display_name
        if avatar_url is not None:
            fields["avatar_url"] = avatar_url
        if fields:
            # Nickname and avatar are the app server's fields, and for the
            # home app this service is its server.
            await self._profiles.set(self.home_sdkappid, caller.user_id,
                                     ProfilePatch.model_validate(fields))
        return await self.me(caller)

    async def change_password(self, caller: Caller, current: str | None, new: str
                              ) -> dict[str, Any]:
        """Set or change the password (an account made by a code sets its
        first one without ``current``); the other sessions are signed out."""
        account = await self.account_of(caller)
        if account.username is None:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "choose a username first: it is what a password signs in with")
        check_password(new, account.username)
        now = now_ms()
        if account.password_hash is not None:
            if current is None:
                raise TidingsError(ErrorCode.INVALID_REQUEST, "current_password: required")
            await self.check_current_password(account, current, now)
        hashed = await self._passwords.hash(new)
        await self._store.set_password(caller.user_id, hashed, now_ms())
        others = await self._store.revoke_sessions(caller.user_id, now_ms(),
                                                   keep=caller.session_id)
        closed = self.close_sessions(caller.user_id, others)
        return {"changed": True, "sessions_signed_out": len(others), "sessions_closed": closed}

    async def check_current_password(self, account: HomeAccount, password: str, now: int
                                     ) -> None:
        """The owner proves it is them (a change, a deletion): the tries
        count toward the username's lock-out like sign-ins do."""
        key = f"home:pw:{account.username}"
        await self.limit(key, self._s.home_password_tries, self._s.home_lockout_seconds,
                         now, ErrorCode.HOME_LOCKED_OUT,
                         "too many password tries for this username; try again later")
        if not await self._passwords.verify(account.password_hash, password[:4096]):
            raise TidingsError(ErrorCode.HOME_BAD_CREDENTIALS, "wrong current password")
        await self._counter.clear(key)

    async def hash_password(self, password: str) -> str:
        return await self._passwords.hash(password)

    async def clear_lockout(self, username: str) -> None:
        """A proven owner (a password reset) may sign in with a password at once."""
        await self._counter.clear(f"home:pw:{username}")

    def disconnect(self, user_id: str, code: CloseCode, reason: str) -> int:
        """Close every socket of the account (the account is gone)."""
        identity = Identity(self.home_sdkappid, user_id)
        # Forget first: a login racing with us reads the new state.
        self._auth.forget([identity])
        return self._bus.disconnect_all(identity, int(code), reason)

    async def find(self, username: str) -> dict[str, Any]:
        """The public card of a username: how people find each other."""
        try:
            name = normalize_username(username)
        except TidingsError:
            name = None
        account = await self._store.by_username(name) if name is not None else None
        if account is None:
            raise TidingsError(ErrorCode.NOT_FOUND, "no account has this username")
        profile = await self._profiles.get_one(self.home_sdkappid, account.user_id)
        return {"user_id": account.user_id, "username": account.username,
                "display_name": profile.get("nickname", ""),
                "avatar_url": profile.get("avatar_url", "")}
