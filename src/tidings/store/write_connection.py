"""PostgreSQL's message writer connection, kept between batches.

Through the pool, each batch checked a connection out and in: a
``pool_pre_ping`` round trip before it (the pool has none since) and the pool's reset (a ROLLBACK
round trip) after, two of a lone batch's ~ten round trips and about a
sixth of its Python (py-spy --gil on bench/writer_alone.py against
PostgreSQL). The writer runs one batch at a time, so one connection held
open does; the lock keeps it so if another caller comes. A batch that
fails drops the connection (it may be dead: PostgreSQL restarted); the
next takes a fresh one from the pool. Not when the server refused the
batch (a unique key taken, a deadlock, a serialization failure: SQLSTATE
classes 23 and 40): the transaction is rolled back and the connection
fine, and the writer tries again (a resend meets a unique key at its first
try: store/writer/pg_batch.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")


class WriteConnection:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(connection, *args)`` in one transaction (``run_sync``)."""
        async with self._lock:
            if self._conn is None:
                self._conn = await self._engine.connect()
            conn = self._conn
            try:
                return await conn.run_sync(_in_transaction, work, *args)
            except BaseException as exc:
                if _rolled_back(exc) and not conn.invalidated:
                    raise  # the server refused the work: the connection is fine
                self._conn = None
                await asyncio.shield(_discard(conn))
                if _lost(self._engine, exc):
                    # PostgreSQL restarted: every idle connection of the pool is
                    # as dead as this one, and the batch's raw statements never
                    # reach SQLAlchemy's own disconnect handling, which would
                    # replace them all. Without this each later batch met the
                    # next dead one: up to the pool's size of failed batches.
                    await asyncio.shield(self._engine.dispose())
                raise

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None


def _in_transaction(conn: Connection, work: Callable[..., T], *args: Any) -> T:
    """``work(conn, *args)`` in one transaction, begun and ended inside the
    one greenlet ``run_sync`` starts: ``AsyncConnection.begin()`` and its
    commit were each a greenlet of their own around ``run_sync``'s, ~100 us
    of a lone batch's ~0.75 ms from the writer's turn to its commit's
    return at 500 msg/s on PostgreSQL (bench/journal/perf-pglat.md)."""
    with conn.begin():
        return work(conn, *args)


async def _discard(conn: AsyncConnection) -> None:
    """Close a connection that may be dead without handing it back to the
    pool: a batch outside a transaction (store/writer/pg_batch.py) leaves
    nothing for the pool's reset to fail on, so a dead one would go back."""
    await conn.invalidate()
    await conn.close()


def _lost(engine: AsyncEngine, exc: BaseException) -> bool:
    """Whether the connection was lost (closed under us, reset, refused)."""
    for err in (exc, getattr(exc, "orig", None), exc.__cause__):
        if isinstance(err, OSError) or getattr(err, "connection_invalidated", False):
            return True
        if isinstance(err, Exception) and engine.dialect.is_disconnect(cast(Any, err), None, None):
            return True
    return False


def sqlstates(exc: BaseException) -> set[str]:
    """The SQLSTATEs a failure carries: SQLAlchemy's error, the driver's
    under it (``orig``) and its cause."""
    return {state for err in (exc, getattr(exc, "orig", None), exc.__cause__)
            if isinstance(state := getattr(err, "sqlstate", None), str)}


def _rolled_back(exc: BaseException) -> bool:
    """Whether the server refused the work (the connection lives on)."""
    return any(state[:2] in ("23", "40") for state in sqlstates(exc))
