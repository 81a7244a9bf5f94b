"""Rate-limit and lock-out counters in the database (fixed windows), so that
every process sharing the database counts the same; a cluster counts in
Redis instead (bus/redis_counters.py), sparing the database a write per
attempt."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import case, delete
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.rate_limits import Hit
from tidings.store.engine import Database
from tidings.store.schema import rate_counters


class RateCounter(Protocol):
    async def hit(self, key: str, window_ms: int, now: int) -> Hit: ...

    async def clear(self, key: str) -> None: ...

    async def prune(self, older_than: int) -> int: ...


class DatabaseRateCounter:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def hit(self, key: str, window_ms: int, now: int) -> Hit:
        """Count one hit in one statement (an upsert), so that processes
        hitting the same key at once never lose a count."""
        insert = (sqlite.insert(rate_counters) if self._db.dialect == "sqlite"
                  else postgresql.insert(rate_counters))
        expired = rate_counters.c.window_start <= now - window_ms
        stmt = insert.values(key=key, window_start=now, hits=1).on_conflict_do_update(
            index_elements=[rate_counters.c.key],
            set_={"window_start": case((expired, now), else_=rate_counters.c.window_start),
                  "hits": case((expired, 1), else_=rate_counters.c.hits + 1)},
        ).returning(rate_counters.c.hits, rate_counters.c.window_start)
        async with self._db.writer.begin() as conn:
            row = (await conn.execute(stmt)).one()
        return Hit(int(row.hits), int(row.window_start) + window_ms)

    async def clear(self, key: str) -> None:
        async with self._db.writer.begin() as conn:
            await conn.execute(delete(rate_counters).where(rate_counters.c.key == key))

    async def prune(self, older_than: int) -> int:
        """Drop counters whose window started before ``older_than`` ms."""
        async with self._db.writer.begin() as conn:
            result = await conn.execute(delete(rate_counters).where(
                rate_counters.c.window_start < older_than))
        return int(result.rowcount)
