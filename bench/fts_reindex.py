"""What migration 0034 (SQLite's FTS5 index made again without positions)
costs a database that holds messages, and that a kill -9 during it or
during the reindex that follows leaves a database that opens and searches
exactly.

    python bench/fts_reindex.py --messages 1000000            # the times
    python bench/fts_reindex.py --messages 200000 --kills 4   # and kill -9s
    python bench/fts_reindex.py --kill-at 2,3.5               # kills at these times

Fills a database with bench/search.py's messages through the real writer
(at the newest revision), brings it down to 0033 (the index with positions,
what a server upgrading has) and indexes it all, then times: the migration
up to 0034 (``migrate``, as a server's start runs it), and the reindex that
the search step does after it in a writer that is otherwise idle (its
``FtsIndex``, steps of ``CHUNK`` rows and merges, as in the server), with a
search's time at its start (every row above the watermark: LIKE). With
``--kills N``: N times, a copy of the 0033 file is migrated and reindexed
by a child process that is killed (SIGKILL) after a random delay; the file
then opens (``migrate``), searches exactly (whole-app searches compared
with every text matched in Python), catches up, passes FTS5's integrity
check and searches exactly again. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
import search as search_bench  # bench/search.py: its data

from tidings.domain.search import matches, parse_query
from tidings.store.engine import Database, migrate, open_database
from tidings.store.search import SearchScope, SearchStore, TextRows
from tidings.store.writer import MessageWriter

QUERIES = ("meeting", "budget deadline", search_bench.RARE, "吃烤鸭", "eeting noo", "北京")


def url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def scalar(db: Database, sql: str) -> Any:
    async with db.reader.connect() as conn:
        return (await conn.execute(text(sql))).scalar()


async def caught_up(db: Database) -> None:
    """Until the watermark is at the newest text row."""
    for _ in range(100_000):
        if await behind(db) <= 0:
            return
        await asyncio.sleep(0.05)


async def behind(db: Database) -> int:
    return int(await scalar(db, "SELECT coalesce((SELECT max(id) FROM message_texts), 0)"
                                " - (SELECT indexed_to FROM message_texts_fts_indexed)"))


async def make_0033(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    db = open_database(url(path))
    await migrate(db)
    fill = await search_bench.fill(db, argparse.Namespace(
        messages=args.messages, users=2000, peers=10, seed=4, tail=0))
    async with db.writer.begin() as conn:
        await conn.run_sync(_downgrade)
    t0 = time.perf_counter()
    async with db.writer.begin() as conn:
        await conn.run_sync(search_bench.index_all)
    indexed_s = time.perf_counter() - t0
    async with db.writer.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")
    fts = await scalar(db, "SELECT sum(length(block)) FROM message_texts_fts_data")
    await db.dispose()
    return {**fill, "index_0033_s": round(indexed_s, 1), "fts_bytes_0033": fts}


def _downgrade(conn: Any) -> None:
    from alembic import command
    from alembic.config import Config

    from tidings.store.engine import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.downgrade(config, "0033")


async def upgrade_and_reindex(path: Path) -> dict[str, Any]:
    """The migration as a server's start runs it, then an idle writer's steps."""
    db = open_database(url(path))
    t0 = time.perf_counter()
    await migrate(db)
    migrated = time.perf_counter() - t0
    store = SearchStore(db)
    t1 = time.perf_counter()
    await store.search(SearchScope(search_bench.APP, None, parse_query("meeting")), 21)
    first_search = time.perf_counter() - t1
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.register(TextRows(db))
    t2 = time.perf_counter()
    writer.start()
    await caught_up(db)
    reindexed = time.perf_counter() - t2
    await writer.stop()
    fts = await scalar(db, "SELECT sum(length(block)) FROM message_texts_fts_data")
    await db.dispose()
    return {"migrate_s": round(migrated, 3), "search_right_after_s": round(first_search, 3),
            "reindex_s": round(reindexed, 1), "fts_bytes_0034": fts}


async def exact(db: Database) -> bool:
    """Whole-app searches against every message's text matched in Python."""
    async with db.reader.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT conversation_id, seq, created_at, elements FROM messages"
            f" WHERE sdkappid = {search_bench.APP} AND kind = 0 AND state != 2"))).all()
    from tidings.domain.search import searchable_text
    texts = [(r.created_at, r.conversation_id, r.seq, searchable_text(r.elements))
             for r in rows]
    store = SearchStore(db)
    for q in QUERIES:
        query = parse_query(q)
        want = sorted(((t, c, s) for t, c, s, body in texts if matches(body, query)),
                      reverse=True)[:50]
        got = [(f.message.created_at, f.message.conversation_id, f.message.seq)
               for f in await store.search(SearchScope(search_bench.APP, None, query), 50)]
        if got != want:
            print(f"not exact: {q!r}: {len(got)} against {len(want)}", file=sys.stderr)
            return False
    return True


async def after_kill(path: Path) -> dict[str, Any]:
    """What the kill left (the revision, the rows above the watermark), then
    the file opened as a server opens it (``migrate``) and checked."""
    with closing(sqlite3.connect(path)) as conn:  # the log is replayed, as at any open
        revision, left_by_kill = conn.execute(
            "SELECT version_num, (SELECT max(id) FROM message_texts) -"
            " (SELECT indexed_to FROM message_texts_fts_indexed) FROM alembic_version"
        ).fetchone()
    db = open_database(url(path))
    await migrate(db)
    left = await behind(db)
    exact_before = await exact(db)
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.register(TextRows(db))
    writer.start()
    await caught_up(db)
    await writer.stop()
    async with db.writer.begin() as conn:
        await conn.exec_driver_sql("INSERT INTO message_texts_fts (message_texts_fts, rank)"
                                   " VALUES ('integrity-check', 1)")
    exact_after = await exact(db)
    await db.dispose()
    return {"revision_left": revision, "rows_left_by_kill": left_by_kill,
            "rows_left_at_open": left, "exact_at_open": exact_before,
            "exact_after_catch_up": exact_after, "integrity": "ok"}


def main(args: argparse.Namespace) -> None:
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "at-0033.db"
    result: dict[str, Any] = {"messages": args.messages}
    if not base.exists():
        result.update(asyncio.run(make_0033(base, args)))
    work = folder / "work.db"
    fresh(base, work)
    result.update(asyncio.run(upgrade_and_reindex(work)))
    result["file_bytes_0034"] = os.path.getsize(work)
    kills = []
    rng = random.Random(args.seed)
    delays = [float(d) for d in args.kill_at.split(",") if d] + [
        0.3 + rng.uniform(0.0, result["reindex_s"] * 0.8 + result["migrate_s"])
        for _ in range(args.kills)]
    for delay in delays:
        fresh(base, work)
        child = subprocess.Popen([sys.executable, __file__, "--child", str(work)])
        time.sleep(delay)  # the interpreter's start, then a moment of the work
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        kills.append({"after_s": round(delay, 2), **asyncio.run(after_kill(work))})
    if kills:
        result["kills"] = kills
    print(json.dumps(result, ensure_ascii=False, indent=1))


def fresh(base: Path, work: Path) -> None:
    """``work`` a copy of ``base`` (its log and shared memory gone)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(work) + suffix).unlink(missing_ok=True)
    shutil.copy(base, work)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/tidings-fts-reindex")
    parser.add_argument("--kills", type=int, default=0)
    parser.add_argument("--kill-at", default="",
                        help="also kill after these seconds (comma-separated)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.child:
        asyncio.run(upgrade_and_reindex(Path(parsed.child)))
    else:
        main(parsed)
