"""What one small read costs the process by each path (issue 19, perf-reads):
the same select (a group's profile with its member count, what
``group_info`` reads) through the async reader (aiosqlite under
SQLAlchemy's async engine: every DBAPI call a round trip to its thread)
and through ``Database.read`` (one hand-off to a reader thread: what
``Database.first`` does), one at a time, on one core; the process's CPU
per read (all threads) and wall. With the old code on PYTHONPATH it shows
what the reader threads' kept connections saved.

    python bench/read_paths.py --reads 3000 --cpu 1
    python bench/read_paths.py --reads 3000 --cpu 1 --postgres   # a cluster of its own
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import uvloop
from sqlalchemy import func, insert, select

from tidings.store.engine import Database, migrate, open_database
from tidings.store.schema import conversation_members, conversations, groups


def statement() -> Any:
    g, cm = groups.c, conversation_members.c
    count = (select(func.count()).where(cm.conversation_id == g.conversation_id)
             .scalar_subquery())
    return select(groups, count.label("n")).where(g.sdkappid == 1, g.group_id == "g1")


async def seed(db: Database) -> None:
    async with db.writer.begin() as conn:
        cid = (await conn.execute(insert(conversations).values(
            sdkappid=1, kind="group", a="g1", b="", created_at=0
        ).returning(conversations.c.id))).scalar_one()
        await conn.execute(insert(groups).values(
            conversation_id=cid, sdkappid=1, group_id="g1", type="Work", name="g",
            owner="u0", join_option="FreeAccess", max_members=200, created_at=0,
            updated_at=0))
        await conn.execute(insert(conversation_members), [
            {"conversation_id": cid, "sdkappid": 1, "user_id": f"u{i}", "role": 0,
             "joined_at": 0} for i in range(20)])


async def timed(reads: int, read: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(reads // 10):  # warm-up
        await read()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(reads):
        await read()
    return {"cpu_us": round((time.process_time() - c0) * 1e6 / reads, 1),
            "wall_us": round((time.perf_counter() - t0) * 1e6 / reads, 1)}


async def run(url: str, reads: int) -> dict[str, Any]:
    db = open_database(url)
    await migrate(db)
    await seed(db)
    stmt = statement()

    async def reader() -> Any:
        async with db.reader.connect() as conn:
            return (await conn.execute(stmt)).first()

    async def handoff() -> Any:  # Database.first's read (the old code has read alone)
        return await db.read(lambda conn: conn.execute(stmt).first())

    assert (await reader()) == (await handoff())
    found = {}
    for _ in range(2):  # alternated: the machine is shared
        found.setdefault("async_reader", []).append(await timed(reads, reader))
        found.setdefault("database_read", []).append(await timed(reads, handoff))
    await db.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    parser.add_argument("--postgres", action="store_true",
                        help="a PostgreSQL of its own (tests/pg.py) instead of SQLite")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import xmpp_servers

        with xmpp_servers.postgres() as pg:
            result = uvloop.run(run(pg.url, args.reads))
    else:
        with tempfile.TemporaryDirectory(prefix="read-paths-") as tmp:
            result = uvloop.run(run(f"sqlite+aiosqlite:///{tmp}/t.db", args.reads))
    print(orjson.dumps({"reads": args.reads, "postgres": args.postgres, **result}).decode())


if __name__ == "__main__":
    main()
