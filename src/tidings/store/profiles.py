"""Profiles: the standard fields on ``users`` and the custom ones in
``user_profile_custom``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.accounts import AccountState
from tidings.domain.clock import now_ms
from tidings.domain.profiles import STANDARD_FIELDS
from tidings.store.engine import Database
from tidings.store.schema import user_profile_custom, users

_COLUMNS = [users.c.user_id, users.c.profile_updated_at,
            *(users.c[name] for name in STANDARD_FIELDS)]


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    standard: dict[str, Any]
    custom: dict[str, str] = field(default_factory=dict)
    updated_at: int = 0


class _Undo(Exception):
    """Leaves a transaction by rolling it back."""


class ProfileStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_many(self, sdkappid: int, user_ids: Sequence[str]) -> dict[str, Profile]:
        """The profiles of the existing (not deleted) accounts among these."""
        if not user_ids:
            return {}

        def read(conn: Connection) -> tuple[Sequence[Any], dict[str, dict[str, str]]]:
            rows = conn.execute(select(*_COLUMNS).where(
                users.c.sdkappid == sdkappid, users.c.user_id.in_(list(user_ids)),
                users.c.state != AccountState.DELETED.value)).all()
            custom: dict[str, dict[str, str]] = {}
            if rows:
                for user_id, key, value in conn.execute(
                        select(user_profile_custom.c.user_id, user_profile_custom.c.key,
                               user_profile_custom.c.value)
                        .where(user_profile_custom.c.sdkappid == sdkappid,
                               user_profile_custom.c.user_id.in_([r.user_id for r in rows]))
                        .order_by(user_profile_custom.c.key)):
                    custom.setdefault(user_id, {})[key] = value
            return rows, custom

        rows, custom = await self._db.read(read)
        return {row.user_id: Profile(row.user_id,
                                     {name: row._mapping[name] for name in STANDARD_FIELDS},
                                     custom.get(row.user_id, {}), row.profile_updated_at)
                for row in rows}

    async def patch(self, sdkappid: int, user_id: str, standard: Mapping[str, Any],
                    custom: Mapping[str, str | None], max_custom: int) -> bool | None:
        """Apply a change in one transaction. None when there is no such
        account; False when the custom fields would exceed ``max_custom``
        (nothing changed then); True once applied."""
        now = now_ms()
        try:
            async with self._db.writer.begin() as conn:
                found = await conn.execute(update(users).where(
                    users.c.sdkappid == sdkappid, users.c.user_id == user_id,
                    users.c.state != AccountState.DELETED.value,
                ).values(profile_updated_at=now, updated_at=now, **standard))
                if int(found.rowcount) != 1:
                    return None
                if custom and not await self._write_custom(conn, sdkappid, user_id, custom,
                                                           max_custom):
                    raise _Undo
        except _Undo:
            return False
        return True

    async def _write_custom(self, conn: AsyncConnection, sdkappid: int, user_id: str,
                            custom: Mapping[str, str | None], max_custom: int) -> bool:
        table = user_profile_custom
        mine = (table.c.sdkappid == sdkappid, table.c.user_id == user_id)
        removed = [key for key, value in custom.items() if value is None]
        if removed:
            await conn.execute(delete(table).where(*mine, table.c.key.in_(removed)))
        for key, value in custom.items():
            if value is None:
                continue
            insert = (sqlite.insert(table) if self._db.dialect == "sqlite"
                      else postgresql.insert(table))
            await conn.execute(insert.values(sdkappid=sdkappid, user_id=user_id, key=key,
                                             value=value).on_conflict_do_update(
                index_elements=[table.c.sdkappid, table.c.user_id, table.c.key],
                set_={"value": value}))
        # Counted after the writes, in the same transaction: two concurrent
        # patches cannot both squeeze under the limit.
        keys = (await conn.execute(select(table.c.key).where(*mine))).scalars().all()
        return len(keys) <= max_custom
