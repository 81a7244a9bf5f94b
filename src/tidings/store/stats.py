"""Operational figures of one app, counted by the database through indexes
(``ix_users_last_login``, ``ix_messages_app_time``), never by a scan of
every row."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from tidings.domain.accounts import AccountState
from tidings.domain.elements import EntryKind
from tidings.store.engine import Database
from tidings.store.schema import messages, users


@dataclass(frozen=True, slots=True)
class AppCounts:
    registered_users: int
    active_users: int
    messages: int


class StatsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def counts(self, sdkappid: int, since_ms: int) -> AppCounts:
        """Accounts that exist; those that logged in since ``since_ms``;
        messages stored since then."""
        async with self._db.reader.connect() as conn:
            registered = await conn.scalar(select(func.count()).select_from(users).where(
                users.c.sdkappid == sdkappid, users.c.state != AccountState.DELETED.value))
            active = await conn.scalar(select(func.count()).select_from(users).where(
                users.c.sdkappid == sdkappid, users.c.last_login_at >= since_ms))
            sent = await conn.scalar(select(func.count()).select_from(messages).where(
                messages.c.sdkappid == sdkappid, messages.c.created_at >= since_ms,
                messages.c.kind == EntryKind.MESSAGE))
        return AppCounts(int(registered or 0), int(active or 0), int(sent or 0))
