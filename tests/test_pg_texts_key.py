"""Migrations 0027 and 0028 on PostgreSQL: ``message_texts`` loses its
surrogate ``id`` (its key, index and sequence) and keeps its rows, found by
``uq_message_texts_message``, which becomes the replica identity; the key
check reads the new rows once; going back gives every row an ``id`` again
and the check its two queries (tests/test_pg_conversation_keys.py holds
the check to its rule)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.conftest import database_url
from tests.pg import Cluster
from tests.test_home_codes_migration import downgrade, upgrade

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

CONVERSATION = ("INSERT INTO conversations (id, sdkappid, kind, a, b, created_at)"
                " VALUES (7, 1400000000, 'c2c', 'alice', 'bob', 0)")
TEXT = ("INSERT INTO message_texts (conversation_id, seq, sdkappid, sender, created_at, body)"
        " VALUES (7, :seq, 1400000000, 'alice', 0, 'hello')")


async def shape(conn: AsyncConnection) -> tuple[list[str], list[str], str]:
    """The table's columns, its indexes and its replica identity."""
    columns = (await conn.execute(text(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = 'message_texts' ORDER BY ordinal_position"))).scalars().all()
    indexes = (await conn.execute(text(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'message_texts'"
        " ORDER BY indexname"))).scalars().all()
    identity = (await conn.execute(text(
        "SELECT relreplident::text FROM pg_class WHERE relname = 'message_texts'"))).scalar_one()
    return list(columns), list(indexes), str(identity)


async def check_source(conn: AsyncConnection) -> str:
    return str((await conn.execute(text(
        "SELECT prosrc FROM pg_proc WHERE proname = 'tidings_rows_conversations'"))).scalar_one())


async def test_texts_keyed_by_their_message(backend: str, pg_cluster: Cluster | None,
                                            tmp_path: Path) -> None:
    engine = create_async_engine(database_url(backend, pg_cluster, empty=True))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0026")
            await conn.execute(text(CONVERSATION))
            await conn.execute(text(TEXT), {"seq": 1})
            assert (await shape(conn))[0][0] == "id"
            assert "count(DISTINCT" in await check_source(conn)
            await conn.run_sync(upgrade, "head")
            columns, indexes, identity = await shape(conn)
            assert "id" not in columns and "message_texts_pkey" not in indexes
            assert "uq_message_texts_message" in indexes and identity == "i"
            assert (await conn.execute(text(
                "SELECT count(*) FROM pg_class WHERE relname = 'message_texts_id_seq'"
            ))).scalar_one() == 0
            assert "LATERAL" in await check_source(conn)
            await conn.execute(text(TEXT), {"seq": 2})
            assert (await conn.execute(text(
                "SELECT array_agg(seq ORDER BY seq) FROM message_texts"))).scalar_one() == [1, 2]
            await conn.run_sync(downgrade, "0026")
            columns, indexes, identity = await shape(conn)
            assert columns[-1] == "id" and "message_texts_pkey" in indexes and identity == "d"
            assert "count(DISTINCT" in await check_source(conn)
            await conn.execute(text(TEXT), {"seq": 3})
            ids = (await conn.execute(text(
                "SELECT array_agg(id ORDER BY seq) FROM message_texts"))).scalar_one()
            assert len(set(ids)) == 3 and None not in ids
    finally:
        await engine.dispose()
