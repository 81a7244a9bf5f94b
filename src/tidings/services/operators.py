"""The deployment's operators (docs/console.md): made from the command line,
signed in on the console with a password, acting on every app.

A session is a random token that the console sends as ``Authorization:
Operator <token>``, kept hashed in the database (every process of a cluster
sees a sign-in and a sign-out at once) and ending after
``operator_session_hours``. Password tries are counted in the database per
name (known or not) and per client address, as home sign-ins are.
"""

from __future__ import annotations

import builtins  # ``list`` is a method here
from typing import Any

from tidings.adapters.home_passwords import Passwords
from tidings.config import Settings
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.operators import (
    TOKEN_PREFIX,
    OperatorSession,
    check_password,
    new_token,
    normalize_name,
    token_hash,
)
from tidings.store.engine import Database
from tidings.store.operators import OperatorStore, OperatorTaken
from tidings.store.rate_limits import DatabaseRateCounter, RateCounter

SECOND_MS = 1000
HOUR_MS = 3_600_000
# A session's id: this many hex digits of its token's hash (64 bits).
SESSION_ID_CHARS = 16
# Every this many sign-ins, expired sessions are deleted.
PRUNE_EVERY = 100


class OperatorService:
    def __init__(self, store: OperatorStore, counter: RateCounter, passwords: Passwords,
                 settings: Settings) -> None:
        self._store = store
        self._counter = counter
        self._passwords = passwords
        self._s = settings
        self._sign_ins = 0

    # -- the command line ------------------------------------------------------------

    async def create(self, name: str, password: str) -> str:
        """A new operator; its normalized name."""
        name = normalize_name(name)
        check_password(password)
        try:
            await self._store.create(name, await self._passwords.hash(password), now_ms())
        except OperatorTaken:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"there is an operator named {name!r}") from None
        return name

    async def set_password(self, name: str, password: str) -> bool:
        """A new password, which ends every session of the operator."""
        check_password(password)
        return await self._store.set_password(normalize_name(name),
                                              await self._passwords.hash(password), now_ms())

    async def list(self) -> list[dict[str, Any]]:
        return [{"name": n, "created_at": t} for n, t in await self._store.names()]

    async def remove(self, name: str) -> bool:
        return await self._store.remove(normalize_name(name))

    # -- signing in ------------------------------------------------------------------

    async def _limit(self, key: str, limit: int, code: ErrorCode, what: str, now: int) -> None:
        hit = await self._counter.hit(key, self._s.operator_lockout_seconds * SECOND_MS, now)
        if hit.hits > limit:
            raise TidingsError(code, what, {
                "retry_after": max(1, -(-(hit.resets_at - now) // SECOND_MS))})

    async def sign_in(self, name: str, password: str, client_ip: str) -> dict[str, Any]:
        """An unknown name and a wrong password answer the same, after the
        same work (one argon2 verification)."""
        now = now_ms()
        try:
            wanted: str | None = normalize_name(name)
        except TidingsError:
            wanted = None
        name_key = f"operator:pw:{wanted}"
        if wanted is not None:
            await self._limit(name_key, self._s.operator_password_tries,
                              ErrorCode.OPERATOR_LOCKED_OUT,
                              "too many password tries for this operator; try again later", now)
        await self._limit(f"operator:ip:{client_ip}", self._s.operator_attempts_per_ip,
                          ErrorCode.RATE_LIMITED,
                          "too many sign-in attempts from this address; try again later", now)
        stored = await self._store.password_hash(wanted) if wanted is not None else None
        if not await self._passwords.verify(stored, password[:PASSWORD_CUT]) or wanted is None:
            raise TidingsError(ErrorCode.OPERATOR_BAD_CREDENTIALS,
                               "wrong operator name or password")
        await self._counter.clear(name_key)
        token = new_token()
        expires_at = now + self._s.operator_session_hours * HOUR_MS
        await self._store.add_session(token_hash(token), wanted, client_ip, now, expires_at)
        self._sign_ins += 1
        if self._sign_ins % PRUNE_EVERY == 0:
            await self._store.prune(now)
        return {"name": wanted, "token": token, "expires_at": expires_at}

    async def session(self, token: str) -> OperatorSession:
        """The live session of a token; refuses an unknown, ended or expired one."""
        found = None
        if token.startswith(TOKEN_PREFIX) and len(token) <= 128:
            found = await self._store.session(token_hash(token), now_ms())
        if found is None:
            raise TidingsError(ErrorCode.OPERATOR_SESSION_INVALID,
                               "unknown, ended or expired operator session: sign in again")
        return found

    async def sign_out(self, token: str) -> None:
        await self._store.end_session(token_hash(token))

    async def sessions(self, name: str, token: str) -> builtins.list[dict[str, Any]]:
        """The operator's live sign-ins, newest first; ``current``: the one
        of ``token``. A session's ``id`` is the start of its token's hash:
        it names the session and signs no one in."""
        mine = token_hash(token)
        return [{"id": digest[:SESSION_ID_CHARS], "client_ip": ip, "created_at": created,
                 "expires_at": expires, "current": digest == mine}
                for digest, ip, created, expires in await self._store.sessions(name, now_ms())]

    async def end(self, name: str, session_id: str) -> None:
        """Sign out one of the operator's sessions by its id; 10010 if none."""
        for digest, *_ in await self._store.sessions(name, now_ms()):
            if len(session_id) == SESSION_ID_CHARS and digest.startswith(session_id):
                await self._store.end_session(digest)
                return
        raise TidingsError(ErrorCode.NOT_FOUND, f"no session {session_id!r} of yours")


# A password is verified on its first this many characters: argon2 takes
# any length, and a megabyte of password is only a way to spend CPU.
PASSWORD_CUT = 4096


def operator_service(db: Database, settings: Settings) -> OperatorService:
    """Over a database; operators' passwords are hashed as home accounts' are."""
    return OperatorService(OperatorStore(db), DatabaseRateCounter(db),
                           Passwords(settings.home_argon2_time_cost,
                                     settings.home_argon2_memory_kib,
                                     settings.home_argon2_parallelism), settings)
