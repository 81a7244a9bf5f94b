"""A lone batch's work on the writer's connection, on one thread, without the
hand-off or the disk (issue 19: a message that commits alone).

The writer is built as ``runtime.py`` builds it (the features' rows) on a
fresh SQLite file in ``/dev/shm`` at ``synchronous=OFF``; its conversation is
made and held in memory, then ``--messages`` one-message batches run in a
row on this thread: ``BEGIN IMMEDIATE``, the writer's ``_commit_in`` (what
its batch thread runs: the rows, the statements, the Python around them),
``COMMIT``. Figures: thread CPU per batch (``time.thread_time_ns``), median
and mean after the first fifth, for the work alone and for BEGIN to COMMIT.
With no thread switch, disk or other process's wake in between, the spread
is a few per cent where ``writer_alone.py`` moves by tens (on a machine
shared with others): the measure for the writer's own Python and
statements. The search step, which follows the commits, is left out.

    python bench/lone_batch.py --messages 5000
    python bench/lone_batch.py --messages 40000 --batch 200 --convs 50 --python  # Python alone
    PYTHONPATH=/tmp/old/src python bench/lone_batch.py --messages 5000   # old side

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from commit_pages import attach_push

from tidings.domain.clock import now_ms
from tidings.domain.ids import ConversationKey, c2c_key
from tidings.domain.records import NewMessage
from tidings.store.callbacks import OutboxRows
from tidings.store.engine import Database, migrate, open_database
from tidings.store.media import MediaRefRows
from tidings.store.mentions import MentionRows
from tidings.store.push import PushJobRows
from tidings.store.search import TextRows
from tidings.store.writer import MessageWriter

APP = 1400000001


async def setup(url: str, convs: int
                ) -> tuple[Database, MessageWriter, list[ConversationKey]]:
    db = open_database(url)
    await migrate(db)
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.register(TextRows(db), MediaRefRows(db), MentionRows(db), OutboxRows(db))
    attach_push(writer, PushJobRows(db, lambda app: True))
    writer.start()
    keys = [c2c_key(APP, f"s{i}", f"p{i}") for i in range(convs)]
    for i, key in enumerate(keys):  # the conversations, in memory
        await writer.submit(NewMessage(key, f"s{i}", "warm", "[]", ""))
    writer._later.clear()  # the search step stays out of the figures
    await writer.stop()
    assert db.batch is not None, "SQLite's"
    await db.batch.close()  # its connection: this thread takes one of its own
    return db, writer, keys


class TimedCursor:
    """The driver's cursor with each call's thread CPU added up by statement
    (its first words)."""

    def __init__(self, cursor: Any, spent: dict[str, int]) -> None:
        self._cursor = cursor
        self._spent = spent

    def _timed(self, how: str, sql: str, params: Any) -> Any:
        t0 = time.thread_time_ns()
        try:
            return getattr(self._cursor, how)(sql, params)
        finally:
            name = " ".join(sql.split()[:3])
            self._spent[name] = self._spent.get(name, 0) + time.thread_time_ns() - t0

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._timed("execute", sql, params)

    def executemany(self, sql: str, params: Any) -> Any:
        return self._timed("executemany", sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class NullCursor:
    """A cursor that runs nothing (``--python``: the batch's Python alone)."""

    def execute(self, sql: str, params: Any = ()) -> None:
        pass

    def executemany(self, sql: str, params: Any) -> None:
        pass

    def close(self) -> None:
        pass


def page_size(raw: Any) -> int:
    return int(raw.execute("PRAGMA page_size").fetchone()[0])


def stats(xs: list[int], skip: int) -> dict[str, float]:
    kept = sorted(xs[skip:])
    return {"median": round(kept[len(kept) // 2] / 1000, 2),
            "mean": round(sum(kept) / len(kept) / 1000, 2)}


def run(args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    db, writer, keys = asyncio.run(setup(f"sqlite+aiosqlite:///{tmp}/lone.db", args.convs))
    assert db.batch is not None
    conn = db.batch.engine.connect()
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute("PRAGMA wal_autocheckpoint=0")  # the log only grows: its frames counted
    begin = raw.cursor()
    body = orjson.dumps([{"type": "text", "text": "see you at the station at noon"}]).decode()
    n_convs = len(keys)
    batches = [[NewMessage(keys[i % n_convs], f"s{i % n_convs}", f"m{i}", body, "")
                for i in range(start, start + args.batch)]
               for start in range(0, args.messages, args.batch)]
    work: list[int] = []
    whole: list[int] = []
    spent: dict[str, int] = {}
    skip = len(batches) // 5
    wal = Path(f"{tmp}/lone.db-wal")
    for n, batch in enumerate(batches):
        if n == skip:
            spent.clear()
            wal_from = wal.stat().st_size
        if args.python:
            t1 = time.thread_time_ns()
            writer._write_batch(conn, NullCursor(), batch, now_ms(), True)  # type: ignore[arg-type]
            work.append((time.thread_time_ns() - t1) // args.batch)
            continue
        t0 = time.thread_time_ns()
        begin.execute("BEGIN IMMEDIATE")
        t1 = time.thread_time_ns()
        if args.split:
            cursor = TimedCursor(conn.connection.cursor(), spent)
            writer._write_batch(conn, cursor, batch, now_ms(), True)  # type: ignore[arg-type]
            cursor.close()
        else:
            writer._commit_in(conn, batch, now_ms(), True)
        t2 = time.thread_time_ns()
        raw.commit()
        t3 = time.thread_time_ns()
        work.append((t2 - t1) // args.batch)
        whole.append((t3 - t0) // args.batch)
        spent["COMMIT"] = spent.get("COMMIT", 0) + t3 - t2
    if args.python:
        conn.close()
        asyncio.run(db.dispose())
        return {"messages": args.messages, "batch": args.batch, "convs": n_convs,
                "python_us": stats(work, skip)}
    # WAL frames (a page and its 24-byte header) each commit wrote.
    frames = (wal.stat().st_size - wal_from) / (page_size(raw) + 24) / (len(batches) - skip)
    conn.close()
    asyncio.run(db.dispose())
    out: dict[str, Any] = {"messages": args.messages, "batch": args.batch, "convs": n_convs,
                           "work_us": stats(work, skip), "begin_to_commit_us": stats(whole, skip),
                           "wal_frames_per_batch": round(frames, 2)}
    if args.split:
        counted = (len(batches) - skip) * args.batch
        out["split_us_per_msg"] = {k: round(v / counted / 1000, 2)
                                   for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1, help="messages per batch")
    parser.add_argument("--convs", type=int, default=1, help="conversations the batches cover")
    parser.add_argument("--split", action="store_true", help="the driver's calls timed")
    parser.add_argument("--python", action="store_true",
                        help="the batch's Python alone: the statements not run (a null cursor)")
    parser.add_argument("--cpu", type=int, default=0, help="pin this process to this CPU")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        print(json.dumps(run(args, tmp)))


if __name__ == "__main__":
    main()
