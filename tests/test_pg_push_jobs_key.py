"""Migration 0030 on PostgreSQL: ``push_jobs`` loses its surrogate ``id``
(its key and sequence) and ``ix_push_jobs_due``; one key over ``(due_at,
conversation_id, seq)`` names a job and orders the due ones. A second job
for one message (none is expected) is made one by the migration and
refused after it; going back gives every row an ``id`` and the due index
again."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.conftest import database_url
from tests.pg import Cluster
from tests.test_home_codes_migration import downgrade, upgrade

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

JOB = ("INSERT INTO push_jobs (sdkappid, conversation_id, seq, options, due_at)"
       " VALUES (1400000000, 7, :seq, '', :due)")


async def shape(conn: AsyncConnection) -> tuple[list[str], dict[str, str]]:
    """The table's columns, and its indexes with their definitions."""
    columns = (await conn.execute(text(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = 'push_jobs' ORDER BY ordinal_position"))).scalars().all()
    indexes = (await conn.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'push_jobs'"))).all()
    return list(columns), {name: definition.split(" USING ")[1] for name, definition in indexes}


async def jobs(conn: AsyncConnection) -> list[tuple[int, int]]:
    return [(r.seq, r.due_at) for r in (await conn.execute(text(
        "SELECT seq, due_at FROM push_jobs ORDER BY seq, due_at"))).all()]


async def test_jobs_keyed_by_due_time_and_message(backend: str,
                                                  pg_cluster: Cluster | None) -> None:
    engine = create_async_engine(database_url(backend, pg_cluster, empty=True))
    try:
        async with engine.connect() as conn:
            await conn.run_sync(upgrade, "0029")
            for seq, due in ((1, 10), (2, 10), (2, 20)):  # seq 2 twice
                await conn.execute(text(JOB), {"seq": seq, "due": due})
            await conn.commit()
            await conn.run_sync(upgrade, "head")
            await conn.commit()
            columns, indexes = await shape(conn)
            assert "id" not in columns
            assert indexes == {"push_jobs_pkey": "btree (due_at, conversation_id, seq)"}
            assert (await conn.execute(text(
                "SELECT count(*) FROM pg_class WHERE relname = 'push_jobs_id_seq'"
            ))).scalar_one() == 0
            assert await jobs(conn) == [(1, 10), (2, 10)]  # the first of seq 2's kept
            with pytest.raises(IntegrityError):
                await conn.execute(text(JOB), {"seq": 1, "due": 10})
            await conn.rollback()
            await conn.execute(text(JOB), {"seq": 3, "due": 30})
            await conn.commit()
            await conn.run_sync(downgrade, "0029")
            await conn.commit()
            columns, indexes = await shape(conn)
            assert columns[-1] == "id"
            assert indexes == {"push_jobs_pkey": "btree (id)", "ix_push_jobs_due": "btree (due_at)"}
            assert await jobs(conn) == [(1, 10), (2, 10), (3, 30)]
            ids = (await conn.execute(text("SELECT array_agg(id) FROM push_jobs"))).scalar_one()
            assert len(set(ids)) == 3 and None not in ids
    finally:
        await engine.dispose()
