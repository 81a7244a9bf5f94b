"""What a ``push_jobs`` row costs PostgreSQL, in shapes of the table and
of the worker's deletes, without the rest of a message's statement.

Inside ``pg_saturation.py --push app`` a job row is one of a message's
several and its share is under that bench's noise on a loaded machine, so
this runs only the job rows' own statements on one cluster
(``xmpp_servers.postgres()``, pinned to the server's CPU, the flushes left
out), the sides alternated: the writer's insert of a batch's jobs (one
``unnest`` statement, as store/writer/pg_batch.py sends them) and the
worker's steps until none is left (the due read of 200 in key order, then
their deletes, as store/push.py runs them). The shapes: ``old`` (the
schema: a ``bigserial`` ``id`` key, ``ix_push_jobs_due`` beside it),
``new`` (keyed by ``(due_at, conversation_id, seq)``, no id: perf-pgsat3
tried it and did not keep it), ``msg`` (keyed by the message, the due index
beside it); ``+array``: a step's deletes in one statement over arrays, not
an ``executemany``. A JSON line per side and round: the backend's CPU per
row (``/proc/PID/schedstat``, ns) for the inserts, the steps and their due
reads, this process's CPU per row for the steps (the server's side: the
driver's work), WAL bytes per row::

    python bench/pg_push_rows.py --rounds 4 --sides old old+array
    python bench/pg_push_rows.py --rounds 2 --sides new old msg
"""

from __future__ import annotations

import argparse
import os
import random
import time
from typing import Any

import asyncpg
import orjson
import uvloop
import xmpp_servers
from chat_load import CLIENT_CPU

SHAPES = {
    "old": ("CREATE TABLE jobs_old (id BIGSERIAL PRIMARY KEY, sdkappid BIGINT NOT NULL,"
            " conversation_id INTEGER NOT NULL, seq BIGINT NOT NULL,"
            " options TEXT NOT NULL DEFAULT '', due_at BIGINT NOT NULL);"
            " CREATE INDEX ix_jobs_old_due ON jobs_old (due_at)"),
    "new": ("CREATE TABLE jobs_new (sdkappid BIGINT NOT NULL,"
            " conversation_id INTEGER NOT NULL, seq BIGINT NOT NULL,"
            " options TEXT NOT NULL DEFAULT '', due_at BIGINT NOT NULL,"
            " PRIMARY KEY (due_at, conversation_id, seq))"),
    "msg": ("CREATE TABLE jobs_msg (sdkappid BIGINT NOT NULL,"
            " conversation_id INTEGER NOT NULL, seq BIGINT NOT NULL,"
            " options TEXT NOT NULL DEFAULT '', due_at BIGINT NOT NULL,"
            " PRIMARY KEY (conversation_id, seq));"
            " CREATE INDEX ix_jobs_msg_due ON jobs_msg (due_at)"),
}
INSERT = ("INSERT INTO jobs_{side} (sdkappid, conversation_id, seq, options, due_at)"
          " SELECT $1, u.c, u.s, $2, $3 FROM unnest($4::int4[], $5::int8[]) AS u(c, s)")
DUE = {"old": "SELECT * FROM jobs_old WHERE due_at <= $1 ORDER BY due_at, id LIMIT 200",
       "new": ("SELECT * FROM jobs_new WHERE due_at <= $1"
               " ORDER BY due_at, conversation_id, seq LIMIT 200"),
       "msg": ("SELECT * FROM jobs_msg WHERE due_at <= $1"
               " ORDER BY due_at, conversation_id, seq LIMIT 200")}
DELETE = {"old": "DELETE FROM jobs_old WHERE id = $1",
          "new": "DELETE FROM jobs_new WHERE due_at = $1 AND conversation_id = $2 AND seq = $3",
          "msg": "DELETE FROM jobs_msg WHERE conversation_id = $1 AND seq = $2"}
# --array: a step's deletes as one statement over arrays.
DELETE_ARRAY = {
    "old": "DELETE FROM jobs_old WHERE id = ANY($1::int8[])",
    "new": ("DELETE FROM jobs_new WHERE (due_at, conversation_id, seq) IN"
            " (SELECT * FROM unnest($1::int8[], $2::int4[], $3::int8[]))"),
    "msg": ("DELETE FROM jobs_msg WHERE (conversation_id, seq) IN"
            " (SELECT * FROM unnest($1::int4[], $2::int8[]))")}


def cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


async def wal(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))


async def one_side(conn: asyncpg.Connection, pid: int, side: str, args: argparse.Namespace,
                   seqs: dict[int, int], clock: list[int]) -> dict[str, Any]:
    side, _, how = side.partition("+")  # "+array": the deletes over arrays
    rows = args.batches * args.batch
    wal0, cpu0 = await wal(conn), cpu_ns(pid)
    for _ in range(args.batches):
        clock[0] += 1
        convs = [random.randrange(1, args.conversations + 1) for _ in range(args.batch)]
        seq = []
        for c in convs:
            seqs[c] = seqs.get(c, 0) + 1
            seq.append(seqs[c])
        await conn.execute(INSERT.format(side=side), 1400000000, "", clock[0], convs, seq)
    wal1, cpu1 = await wal(conn), cpu_ns(pid)
    deleted = reading = 0
    delete = await conn.prepare(DELETE[side])
    client = time.process_time_ns()
    while True:
        before = cpu_ns(pid)
        due = await conn.fetch(DUE[side], clock[0])
        reading += cpu_ns(pid) - before
        if not due:
            break
        keys = ([(r["id"],) for r in due] if side == "old" else
                [(r["conversation_id"], r["seq"]) for r in due] if side == "msg"
                else [(r["due_at"], r["conversation_id"], r["seq"]) for r in due])
        if how == "array":
            await conn.execute(DELETE_ARRAY[side], *(list(c) for c in zip(*keys, strict=True)))
        else:
            async with conn.transaction():
                await delete.executemany(keys)
        deleted += len(due)
    wal2, cpu2 = await wal(conn), cpu_ns(pid)
    client = time.process_time_ns() - client
    await conn.execute(f"VACUUM jobs_{side}")  # each round starts from an empty table
    return {"side": side + ("+" + how if how else ""), "rows": rows, "deleted": deleted,
            "insert_ns_per_row": round((cpu1 - cpu0) / rows), "steps_ns_per_row":
            round((cpu2 - cpu1) / rows), "due_reads_ns_per_row": round(reading / rows),
            "steps_client_ns_per_row": round(client / rows),
            "insert_wal_per_row": round((wal1 - wal0) / rows, 1),
            "steps_wal_per_row": round((wal2 - wal1) / rows, 1)}


async def run(url: str, args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        # The flushes are the same on both sides: left out, the CPU is the rows'.
        await conn.execute("SET synchronous_commit = off")
        for ddl in SHAPES.values():
            await conn.execute(ddl)
        pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
        seqs: dict[int, int] = {}
        clock = [int(time.time() * 1000)]
        for round_ in range(args.rounds):
            for side in args.sides[::-1] if round_ % 2 else args.sides:
                result = await one_side(conn, pid, side, args, seqs, clock)
                print(orjson.dumps({"round": round_, **result}).decode(), flush=True)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--batch", type=int, default=700, help="jobs per insert")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--sides", nargs="+", default=["old", "old+array"],
                        choices=[f"{shape}{how}" for shape in sorted(SHAPES)
                                 for how in ("", "+array")],
                        help="the table's shapes, alternated (new: keyed by (due_at,"
                             " conversation_id, seq); msg: keyed by the message, with the due"
                             " index beside it), +array: a step's deletes as one statement")
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    random.seed(19)
    with xmpp_servers.postgres() as pg:
        uvloop.run(run(pg.url, args))


if __name__ == "__main__":
    main()
