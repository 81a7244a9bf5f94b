"""Claiming queued work when several processes share the database
(docs/cluster.md): the callback outbox, push jobs, push sends.

On PostgreSQL the due rows are taken with ``FOR UPDATE SKIP LOCKED`` and
their due time moved ``LEASE_MS`` ahead in the same statement: no other
process sees them as due while this one works, and if this one dies
before it records what became of them, they come due again when the lease
ends and another process takes them. Recording an outcome sets the real
next time (or removes the row), so a lease never delays a retry.

On SQLite, and on PostgreSQL for a process alone (no Redis: the node lock
lets no other process serve), a plain read as before (``lease_ms`` 0): no
write on the poll path, and after a crash the restarted process posts at
once what the dead one had under way, without waiting for a lease."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, func, select, update

from tidings.store.engine import Database

# How long claimed work is this process's by default
# (TIDINGS_CLUSTER_LEASE): longer than any one attempt (a callback's or a
# push send's timeout), short enough that a dead process's work is soon
# taken over.
LEASE_MS = 60_000


async def due(db: Database, table: Table, due_at: str, where: Sequence[ColumnElement[bool]],
              limit: int, now: int, lease_ms: int = LEASE_MS,
              claimer: Mapping[str, object] | None = None) -> Sequence[Row[Any]]:
    """Up to ``limit`` rows of ``table`` matching ``where``, oldest ``due_at``
    first; on PostgreSQL in a cluster claimed for ``lease_ms`` (their
    ``due_at`` moved, and ``claimer``'s columns written: who holds them)."""
    when, key = table.c[due_at], table.c.id
    if db.dialect != "postgresql" or not lease_ms:
        async with db.reader.connect() as conn:
            return (await conn.execute(select(table).where(*where).order_by(when, key)
                                       .limit(limit))).all()
    pick = select(key).where(*where).order_by(when, key).limit(limit)
    claim = (update(table)
             .where(key.in_(pick.with_for_update(skip_locked=True).scalar_subquery()))
             .values({due_at: now + lease_ms, **(claimer or {})})
             .returning(*table.c))
    async with db.writer.begin() as conn:
        rows = (await conn.execute(claim)).all()
    # RETURNING keeps no order; the lease moved every due time alike.
    return sorted(rows, key=lambda r: r.id)


async def release(db: Database, table: Table, due_at: str, ids: Sequence[int],
                  now: int, lease_ms: int) -> None:
    """Claimed rows this process will not work on now: due again at once
    (nothing was claimed without a lease)."""
    if ids and lease_ms and db.dialect == "postgresql":
        async with db.writer.begin() as conn:
            await conn.execute(update(table).where(table.c.id.in_(list(ids)))
                               .values({due_at: now}))


# A table, its due time's column, and which of its rows count.
Due = tuple[Table, str, Sequence[ColumnElement[bool]]]


async def next_due(db: Database, *due: Due) -> list[int | None]:
    """For each of ``due``: the earliest due time of its rows (None: no row),
    read in one connection. For a process alone, which sleeps until its
    work comes due instead of polling (services/idle.py); in a cluster
    another process's claims move due times, and the workers poll."""
    async with db.reader.connect() as conn:
        found = [(await conn.execute(select(func.min(table.c[column])).where(*where))).scalar()
                 for table, column, where in due]
    return [None if at is None else int(at) for at in found]
