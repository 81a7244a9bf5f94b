"""SQLite's batch thread: an unsynced transaction (the writer's later work)
puts the connection's own ``synchronous`` level back, so the next
message's commit is synced as before (FULL: ack after fsync), and a
connection set otherwise (a bench's OFF) stays as it was set."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, event

from tidings.store.engine import open_database


def level(conn: Connection) -> int:
    return int(conn.connection.driver_connection.execute("PRAGMA synchronous").fetchone()[0])


@pytest.mark.parametrize("set_to", [None, 0])
async def test_an_unsynced_transaction_leaves_the_connections_level_as_it_was(
        tmp_path: Path, set_to: int | None) -> None:
    db = open_database(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    assert db.batch is not None
    if set_to is not None:
        event.listen(db.batch.engine, "connect",
                     lambda c, _: c.execute(f"PRAGMA synchronous={set_to}"))
    try:
        before = await db.batch.run(level)
        during = await db.batch.run(level, synced=False)
        after = await db.batch.run(level)
    finally:
        await db.dispose()
    assert before == (2 if set_to is None else set_to)  # FULL as the engine sets it
    assert during == 1  # NORMAL: no fsync of its own
    assert after == before
