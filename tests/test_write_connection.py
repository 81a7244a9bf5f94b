"""PostgreSQL's message writer connection (store/write_connection.py): a
batch's transaction is begun, run and ended in the one greenlet of its
``run_sync``; what it wrote is committed, or nothing of it when it fails;
a connection the server refused work on is kept, any other dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import greenlet
import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import IntegrityError

from tidings.store.engine import Database

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


@pytest.fixture
async def probe(db: Database) -> AsyncIterator[Database]:
    async with db.writer.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE wc_probe (id int PRIMARY KEY)")
    yield db


def _insert(conn: Connection, *ids: int) -> int:
    """Insert ``ids`` in turn; the backend's pid."""
    for i in ids:
        conn.exec_driver_sql(f"INSERT INTO wc_probe VALUES ({i})")
    return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


async def _stored(db: Database) -> list[int]:
    async with db.reader.connect() as conn:
        return list((await conn.execute(text("SELECT id FROM wc_probe ORDER BY id"))).scalars())


async def test_a_batch_begins_its_transaction_in_its_own_greenlet(probe: Database) -> None:
    # AsyncConnection.begin() and its commit were each a greenlet of their
    # own around the work's: three hand-offs a batch where one does.
    seen: dict[str, Any] = {}

    def begun(_conn: Connection) -> None:
        seen["begin"] = greenlet.getcurrent()

    def work(conn: Connection) -> int:
        conn.exec_driver_sql("INSERT INTO wc_probe VALUES (1)")
        seen["work"] = greenlet.getcurrent()
        return 7

    event.listen(probe.writer.sync_engine, "begin", begun)
    try:
        assert probe.held is not None
        assert await probe.held.run(work) == 7
    finally:
        event.remove(probe.writer.sync_engine, "begin", begun)
    assert seen["begin"] is seen["work"]
    assert await _stored(probe) == [1]


async def test_a_refused_batch_writes_nothing_and_keeps_its_connection(probe: Database) -> None:
    assert probe.held is not None
    pid = await probe.held.run(_insert, 1)
    with pytest.raises(IntegrityError):
        await probe.held.run(_insert, 2, 1)  # 23505 on the second row
    assert await _stored(probe) == [1]  # the 2 went with its transaction
    assert await probe.held.run(_insert, 3) == pid
    assert await _stored(probe) == [1, 3]


async def test_a_batch_failing_otherwise_writes_nothing_and_drops_its_connection(
        probe: Database) -> None:
    assert probe.held is not None
    pid = await probe.held.run(_insert, 1)

    def fails(conn: Connection) -> None:
        _insert(conn, 2)
        raise RuntimeError("the batch's Python failed")

    with pytest.raises(RuntimeError):
        await probe.held.run(fails)
    assert await _stored(probe) == [1]
    assert await probe.held.run(_insert, 3) != pid
    assert await _stored(probe) == [1, 3]
