"""What a saturation batch's ``INSERT INTO messages`` costs, b-tree by b-tree,
and by the shape of the client message ids (issue 19, perf-sat).

The messages table as the migrations make it (copied from a migrated file
into a fresh one, with ``--page-size``), on ``/dev/shm`` at
``synchronous=OFF`` (no disk: SQLite's own work), filled by batches of
``--batch`` rows over ``--convs`` one-to-one conversations and twice as many
senders, each batch ``BEGIN IMMEDIATE``, the writer's INSERT, ``COMMIT``.
Figures: thread CPU a message, BEGIN to COMMIT, median after the first fifth
of the batches; the log's frames a batch.

    python bench/insert_btrees.py --ids counter                   # chat_load's ids
    python bench/insert_btrees.py --ids uuid                      # the SDKs' uuid4().hex
    python bench/insert_btrees.py --ids time                      # rising: sdk/_ids.py
    python bench/insert_btrees.py --schema no-client-key          # without uq_messages_client_id
    python bench/insert_btrees.py --how values                    # one statement a 64 rows
    python bench/insert_btrees.py --memstatus off                 # SQLite's malloc counters off

``--schema``: ``migrated``; ``no-client-key`` (the table without
``uq_messages_client_id``); ``no-fk`` (without its key to conversations);
``rowid-only`` (neither the primary key nor the dedup key: the bare rowid
table). ``--how``: ``many`` (the writer's ``executemany``), ``values`` (a
64-row ``VALUES`` statement, the rest ``executemany``), ``json`` (one
statement over ``json_each`` of the batch as a JSON array). ``--busy``: a
thread spinning in Python beside it (the event loop wanting the GIL; pin
with ``--cpu`` so both share a core as in the server).

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

APP = 1400000001
COLS = ("conversation_id, seq, sdkappid, sender, client_msg_id, elements, cloud_custom_data,"
        " created_at, state, msg_no, imported, mentions, push_options")
ROW = "(?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)"
MANY = f"INSERT INTO messages ({COLS}) VALUES {ROW}"
CHUNK = 64
VALUES = f"INSERT INTO messages ({COLS}) VALUES " + ", ".join([ROW] * CHUNK)
JSON = (f"INSERT INTO messages ({COLS}) SELECT "
        + ", ".join([f"json_extract(value, '$[{i}]')" for i in range(8)] + ["0"]
                    + [f"json_extract(value, '$[{i}]')" for i in range(8, 12)])
        + " FROM json_each(?)")
KEY = "CONSTRAINT uq_messages_client_id UNIQUE (sdkappid, sender, client_msg_id), "
FK = ", \n\tFOREIGN KEY(conversation_id) REFERENCES conversations (id) ON DELETE CASCADE"
PK = "PRIMARY KEY (conversation_id, seq), "


def migrated(folder: str) -> str:
    """A file the project's migrations made (its tables' SQL is copied), in
    a process of its own: ``open_database`` turns SQLite's memory counters
    off in its process (store/sqlite_lib.py), and here ``--memstatus``
    says."""
    path = f"{folder}/migrated.db"
    subprocess.run([sys.executable, __file__, "--migrate-to", path], check=True)
    return path


def migrate_to(path: str) -> None:
    from tidings.store.engine import migrate, open_database

    async def make() -> None:
        db = open_database(f"sqlite+aiosqlite:///{path}")
        await migrate(db)
        await db.dispose()

    asyncio.run(make())


def memstatus_off() -> None:
    """SQLite's memory counters off (each malloc and free takes a global
    mutex with them on): only before any connection, so SQLite is shut down
    and started again around the setting."""
    lib = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
    assert lib.sqlite3_shutdown() == 0
    assert lib.sqlite3_config(9, ctypes.c_int(0)) == 0  # SQLITE_CONFIG_MEMSTATUS
    assert lib.sqlite3_initialize() == 0


def schema_sql(source: str, schema: str) -> list[str]:
    c = sqlite3.connect(source)
    rows = c.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name IN"
                     " ('apps', 'conversations', 'messages') AND sql IS NOT NULL"
                     " AND type IN ('table', 'index')").fetchall()
    c.close()
    out = []
    for name, sql in rows:
        if name == "messages":
            drop = {"no-client-key": [KEY], "no-fk": [FK], "rowid-only": [KEY, PK]}
            for part in drop.get(schema, []):
                assert part in sql, part
                sql = sql.replace(part, "")
        out.append(sql)
    return out


def client_id(shape: str, n: int, now: int) -> str:
    if shape == "counter":
        return str(n)  # chat_load's
    if shape == "uuid":
        return uuid.uuid4().hex
    return f"{now:012x}{os.urandom(10).hex()}"  # sdk/_ids.py's


def run(args: argparse.Namespace, folder: str) -> dict[str, Any]:
    source = migrated(folder)
    if args.memstatus == "off":
        memstatus_off()
    path = f"{folder}/insert.db"
    c = sqlite3.connect(path, isolation_level=None)
    c.execute(f"PRAGMA page_size={args.page_size}")
    for sql in schema_sql(source, args.schema):
        c.execute(sql)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    c.execute("PRAGMA foreign_keys=ON")
    c.execute("PRAGMA wal_autocheckpoint=0")  # the log only grows: its frames counted
    c.execute(f"PRAGMA cache_size={args.cache}")
    c.execute("INSERT INTO apps (sdkappid, name, created_at) VALUES (?, 'bench', 0)", (APP,))
    for i in range(args.convs):
        c.execute("INSERT INTO conversations (id, sdkappid, kind, a, b, created_at)"
                  " VALUES (?, ?, 'c2c', ?, ?, 0)", (i + 1, APP, f"s{i}", f"p{i}"))
    body = orjson.dumps([{"type": "text", "text": "hello from the chat load bench"}]).decode()
    senders = 2 * args.convs
    seqs = [0] * args.convs
    counters = [0] * senders
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    if args.busy:
        threading.Thread(target=spin, daemon=True).start()
    cur = c.cursor()
    now = int(time.time() * 1000)
    batches = args.messages // args.batch
    skip = batches // 5
    wal = Path(f"{path}-wal")
    times: list[float] = []
    for b in range(batches):
        if b == skip:
            wal_from = wal.stat().st_size
        rows = []
        at = now + b * 30  # a commit every ~30 ms, as at saturation
        for j in range(args.batch):
            k = (b * args.batch + j) % senders
            conv = k % args.convs
            seqs[conv] += 1
            counters[k] += 1
            rows.append((conv + 1, seqs[conv], APP, f"u{k}", client_id(args.ids, counters[k], at),
                         body, "", at, seqs[conv], 0, None, ""))
        t0 = time.thread_time_ns()
        cur.execute("BEGIN IMMEDIATE")
        if args.how == "many":
            cur.executemany(MANY, rows)
        elif args.how == "values":
            full = len(rows) - len(rows) % CHUNK
            for s in range(0, full, CHUNK):
                cur.execute(VALUES, [v for r in rows[s:s + CHUNK] for v in r])
            if full < len(rows):
                cur.executemany(MANY, rows[full:])
        else:
            cur.execute(JSON, (orjson.dumps(rows).decode(),))
        cur.execute("COMMIT")
        times.append((time.thread_time_ns() - t0) / args.batch / 1000)
    stop.set()
    frames = (wal.stat().st_size - wal_from) / (args.page_size + 24) / (batches - skip)
    stored = c.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert stored == batches * args.batch, stored
    c.close()
    kept = times[skip:]
    return {"schema": args.schema, "ids": args.ids, "how": args.how, "batch": args.batch,
            "convs": args.convs, "messages": stored, "page_size": args.page_size,
            "cache": args.cache, "memstatus": args.memstatus, "busy": args.busy,
            "us_per_msg": round(statistics.median(kept), 2),
            "us_per_msg_mean": round(statistics.mean(kept), 2),
            "wal_frames_per_batch": round(frames, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=150_000)
    parser.add_argument("--batch", type=int, default=900, help="rows a commit (saturation's)")
    parser.add_argument("--convs", type=int, default=50, help="conversations (2 senders each)")
    parser.add_argument("--ids", choices=["counter", "uuid", "time"], default="counter")
    parser.add_argument("--schema", choices=["migrated", "no-client-key", "no-fk", "rowid-only"],
                        default="migrated")
    parser.add_argument("--how", choices=["many", "values", "json"], default="many")
    parser.add_argument("--page-size", type=int, default=4096)
    parser.add_argument("--cache", type=int, default=-2000, help="PRAGMA cache_size")
    parser.add_argument("--memstatus", choices=["on", "off"], default="on")
    parser.add_argument("--busy", action="store_true", help="a Python thread spinning beside")
    parser.add_argument("--cpu", type=int, help="pin this process to this CPU")
    parser.add_argument("--migrate-to", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.migrate_to:
        migrate_to(args.migrate_to)
        return
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="insert-btrees-", dir=shm) as folder:
        print(json.dumps(run(args, folder)))


if __name__ == "__main__":
    main()
