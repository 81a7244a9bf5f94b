"""Accounts: the ``users`` rows, their profile basics and their state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.accounts import AccountImport, AccountState, AccountStatus
from tidings.domain.clock import now_ms
from tidings.store.account_writes import AccountWrites
from tidings.store.engine import Database
from tidings.store.schema import users


class AccountStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._writes = AccountWrites(db)

    def _insert(self) -> sqlite.Insert | postgresql.Insert:
        return sqlite.insert(users) if self._db.dialect == "sqlite" else postgresql.insert(users)

    async def ensure(self, sdkappid: int, user_id: str) -> AccountStatus:
        """Independent account mode: an identity exists from its first login.
        Returns the account's state (a deleted account stays deleted). Written
        with the other logins' account writes (store/account_writes.py)."""
        return await self._writes.ensure(sdkappid, user_id, now_ms())

    async def import_accounts(self, sdkappid: int, accounts: Sequence[AccountImport]
                              ) -> list[bool]:
        """Insert or update each account, in one transaction; a deleted one
        comes back as active. True for each account that was new."""
        now = now_ms()
        created: list[bool] = []
        async with self._db.writer.begin() as conn:
            for acc in accounts:
                existed = (await conn.execute(select(users.c.state).where(
                    users.c.sdkappid == sdkappid, users.c.user_id == acc.user_id))).first()
                changes: dict[str, object] = {"updated_at": now}
                if acc.nickname is not None:
                    changes["nickname"] = acc.nickname
                if acc.avatar_url is not None:
                    changes["avatar_url"] = acc.avatar_url
                if existed is not None and existed.state == AccountState.DELETED:
                    changes["state"] = AccountState.ACTIVE.value
                # An upsert: a first login may insert the same row meanwhile.
                await conn.execute(self._insert().values(
                    sdkappid=sdkappid, user_id=acc.user_id, created_at=now, **changes
                ).on_conflict_do_update(index_elements=[users.c.sdkappid, users.c.user_id],
                                        set_=changes))
                created.append(existed is None or existed.state == AccountState.DELETED)
        return created

    async def existing(self, sdkappid: int, user_ids: Sequence[str]) -> set[str]:
        """Which of these accounts exist (imported or logged in, not deleted)."""
        if not user_ids:
            return set()
        rows = await self._db.rows(select(users.c.user_id).where(
            users.c.sdkappid == sdkappid, users.c.user_id.in_(list(user_ids)),
            users.c.state != AccountState.DELETED.value))
        return {r.user_id for r in rows}

    async def page(self, sdkappid: int, *, after: str, limit: int,
                   state: AccountState | None, prefix: str = "") -> list[dict[str, Any]]:
        """Accounts by user id after ``after`` (all states, or one), those
        whose user id starts with ``prefix`` (exactly: not LIKE, whose case
        rules differ between SQLite and PostgreSQL)."""
        u = users.c
        where = [u.sdkappid == sdkappid, u.user_id > after]
        if state is not None:
            where.append(u.state == state.value)
        if prefix:
            where.append(func.substr(u.user_id, 1, len(prefix)) == prefix)
        rows = await self._db.rows(
            select(u.user_id, u.state, u.nickname, u.created_at, u.last_login_at)
            .where(*where).order_by(u.user_id).limit(limit))
        return [{"user_id": r.user_id, "state": r.state, "nickname": r.nickname,
                 "created_at": r.created_at, "last_login_at": r.last_login_at or None}
                for r in rows]

    async def set_state(self, sdkappid: int, user_ids: Sequence[str], state: AccountState
                        ) -> set[str]:
        """Move existing (not deleted) accounts to ``state``; returns those found."""
        found = await self.existing(sdkappid, user_ids)
        if not found:
            return found
        async with self._db.writer.begin() as conn:
            await conn.execute(update(users).where(and_(
                users.c.sdkappid == sdkappid, users.c.user_id.in_(sorted(found)),
                users.c.state != AccountState.DELETED.value,
            )).values(state=state.value, updated_at=now_ms()))
        return found

    async def kick(self, sdkappid: int, user_id: str, at_ms: int) -> bool:
        """Tickets issued before ``at_ms`` stop working; False if no such account."""
        async with self._db.writer.begin() as conn:
            result = await conn.execute(update(users).where(
                users.c.sdkappid == sdkappid, users.c.user_id == user_id,
                users.c.state != AccountState.DELETED.value,
            ).values(sessions_valid_after=at_ms, updated_at=at_ms))
        return int(result.rowcount) == 1

    async def touch_login(self, sdkappid: int, user_id: str, at_ms: int) -> None:
        await self._writes.touch_login(sdkappid, user_id, at_ms)

    async def status(self, sdkappid: int, user_id: str) -> AccountStatus | None:
        row = await self._db.first(
            select(users.c.state, users.c.sessions_valid_after)
            .where(users.c.sdkappid == sdkappid, users.c.user_id == user_id))
        return None if row is None else AccountStatus(AccountState(row.state),
                                                      row.sessions_valid_after)
