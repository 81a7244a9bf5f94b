"""PostgreSQL at saturation: the server's and PostgreSQL's CPU per message,
and PostgreSQL's own split by statement (``pg_stat_statements``).

One cluster (bench/xmpp_servers.py's ``postgres()``: fsync and
synchronous_commit on, pinned to the server's CPU) with
``pg_stat_statements`` preloaded; each run a fresh database and a fresh
``tidings serve`` under chat_load's throughput load. ``--old PATH`` runs a
second ``src/`` (an extracted copy of the old code) as the server's
``PYTHONPATH``, alternated run by run with this checkout's, so the two
sides share the machine's load::

    git -C /work/integrate archive 4978c95 src | tar -x -C /tmp/perf-pgsat-old
    python bench/pg_saturation.py --old /tmp/perf-pgsat-old/src --rounds 2 --duration 6

Prints a JSON line per run: chat_load's figures plus ``postgres_us_per_msg``
(the cluster's CPU per acked message, from /proc), ``batch`` (acked messages
per call of the batch's statement) and ``statements`` (the top statements by
execution time: calls, rows, ms, WAL bytes, each per message). ``--perf
PATH`` records the server's CPU with ``perf`` in each measured window and
writes the cluster's processes' functions (self, then inclusive time, as
shares of the cluster's samples) to ``PATH.SIDE.N.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
from typing import Any

import asyncpg
import chat_load
import login_storm
import orjson
import psutil
import uvloop
import xmpp_servers
from chat_load import CLIENT_CPU, SERVER_CPU

SETTINGS = ("shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all",
            "pg_stat_statements.max=1000")

TOP = """SELECT query, calls, rows, total_exec_time, wal_bytes, shared_blks_hit,
    shared_blks_dirtied FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database
    WHERE datname = $1) ORDER BY total_exec_time DESC LIMIT $2"""


def dsn(url: str, database: str) -> str:
    base = url.replace("postgresql+asyncpg://", "postgresql://")
    return base.rsplit("/", 1)[0] + "/" + database


async def admin(url: str, *sql: str) -> None:
    conn = await asyncpg.connect(dsn(url, "bench"))
    try:
        for statement in sql:
            await conn.execute(statement)
    finally:
        await conn.close()


async def top(url: str, database: str, count: int, acked: int) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn(url, database))
    try:
        rows = await conn.fetch(TOP, database, count)
    finally:
        await conn.close()
    n = max(acked, 1)
    return [{"query": " ".join(r["query"].split())[:160], "calls": r["calls"],
             "rows": r["rows"], "exec_us_per_msg": round(1000 * r["total_exec_time"] / n, 1),
             "wal_bytes_per_msg": round(int(r["wal_bytes"]) / n, 1),
             "blks_hit_per_msg": round(r["shared_blks_hit"] / n, 1),
             "blks_dirtied_per_msg": round(r["shared_blks_dirtied"] / n, 2)}
            for r in rows]


ROWS = """SELECT relname, n_tup_ins, n_tup_del FROM pg_stat_user_tables
    WHERE n_tup_ins + n_tup_del > 0 ORDER BY relname"""


async def table_rows(url: str, database: str, acked: int) -> dict[str, list[float]]:
    """Each table's rows inserted and deleted per acked message in the
    measured window (``pg_stat_reset`` at its start)."""
    conn = await asyncpg.connect(dsn(url, database))
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        rows = await conn.fetch(ROWS)
    finally:
        await conn.close()
    n = max(acked, 1)
    return {r["relname"]: [round(r["n_tup_ins"] / n, 3), round(r["n_tup_del"] / n, 3)]
            for r in rows}


def load_args(args: argparse.Namespace, url: str) -> argparse.Namespace:
    """What chat_load's ``own_server`` and ``bench`` read."""
    return argparse.Namespace(
        mode="throughput", pairs=args.pairs, window=args.window, rate=0.0,
        duration=args.duration, warmup=args.warmup, drain_timeout=5.0, database_url=url,
        url=None, sdkappid=None, key=None, server_pid=None, show_server_log=False,
        push=args.push, callback="none", tail=None, profile=args.profile, more_urls=[],
        spread="split", server_env=login_storm.CROWD)


def one_run(args: argparse.Namespace, pg: xmpp_servers.Postgres, side: str, src: str,
            number: int) -> dict[str, Any]:
    database = f"bench_{number}"
    uvloop.run(admin(pg.url, f"CREATE DATABASE {database}"))
    url = pg.url.rsplit("/", 1)[0] + "/" + database
    old_path = os.environ.get("PYTHONPATH")
    if src:
        os.environ["PYTHONPATH"] = src
    try:
        with chat_load.own_server(load_args(args, url)) as target:
            uvloop.run(admin_db(url, database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
                                *args.side_sql.get(side, ()),
                                "SELECT pg_stat_statements_reset()"))
            os.sched_setaffinity(0, {CLIENT_CPU})
            cpu0 = pg.cpu_seconds()
            result = uvloop.run(counted(target, load_args(args, url), url, database,
                                        pg.pid if args.perf else None,
                                        f"{args.perf}.{side}.{number}"))
            cpu1 = pg.cpu_seconds()
            os.sched_setaffinity(0, {SERVER_CPU, CLIENT_CPU})
    finally:
        if old_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old_path
    acked = result.pop("_acked")
    statements = uvloop.run(top(pg.url, database, args.top, acked))
    rows = uvloop.run(table_rows(url, database, acked))
    batch_calls = max((s["calls"] for s in statements if "unnest" in s["query"]), default=0)
    return {"side": side, **result, "pg_database": database,
            "postgres_us_per_msg": round(1e6 * (cpu1 - cpu0) / max(acked, 1), 1),
            "server_plus_postgres_us": round(
                (result["server_us_per_msg"] or 0) + 1e6 * (cpu1 - cpu0) / max(acked, 1), 1),
            "batch": round(acked / batch_calls, 1) if batch_calls else None,
            "rows_ins_del_per_msg": rows, "statements": statements}


async def admin_db(url: str, database: str, *sql: str) -> None:
    conn = await asyncpg.connect(dsn(url, database))
    try:
        for statement in sql:
            await conn.execute(statement)
    finally:
        await conn.close()


async def counted(target: Any, args: argparse.Namespace, url: str, database: str,
                  postmaster: int | None = None, perf_path: str = "") -> dict[str, Any]:
    """chat_load's bench, with the statistics reset when its measured window
    starts (after the warm-up) and the acked count kept for the split; with
    ``postmaster``, ``perf`` records the cluster's CPU in that window and
    ``perf_path`` + ``.txt`` gets its backends' functions (self time)."""
    async def reset_after_warmup() -> None:
        await asyncio.sleep(args.warmup)
        await admin_db(url, database, "SELECT pg_stat_statements_reset()",
                       "SELECT pg_stat_reset()")
        if postmaster is not None:
            await asyncio.to_thread(perf, postmaster, perf_path, args.duration - 1)

    resetting = asyncio.create_task(reset_after_warmup())
    result = await chat_load.bench(target, args)
    with contextlib.suppress(asyncio.CancelledError):
        await resetting
    result["_acked"] = round(result["acked_per_s"] * result["duration_s"])
    return result


def perf(postmaster: int, path: str, seconds: float) -> None:
    """``perf record`` on the server's CPU (the cluster's), then the cluster's
    processes' functions by self time into ``path``.txt."""
    subprocess.run(["perf", "record", "-q", "-C", str(SERVER_CPU), "-g", "-o", path, "--",
                    "sleep", str(max(seconds, 1.0))], check=True, capture_output=True)
    pids = ",".join(str(p.pid) for p in psutil.Process(postmaster).children())
    with open(path + ".txt", "w") as out:
        for mode in ("--no-children", "--children"):
            report = subprocess.run(
                ["perf", "report", "-i", path, "--pid", pids, mode, "--percentage", "relative",
                 "--sort", "dso,sym",
                 "--stdio", "-g", "none", "--percent-limit", "0.5"],
                capture_output=True, text=True, check=False).stdout
            out.write(f"## {mode}\n" + "\n".join(
                line for line in report.splitlines() if line and not line.startswith("#"))
                + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="", help="an old src/ to alternate with this one")
    parser.add_argument("--side", action="append", default=[], metavar="NAME=SRC",
                        help="more src/ to alternate, each named")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--top", type=int, default=6, help="statements shown per run")
    parser.add_argument("--push", choices=["on", "off", "app"], default="on",
                        help="chat_load's --push (app: the app pushes, a job per message)")
    parser.add_argument("--profile", metavar="PATH", help="py-spy the server (chat_load's)")
    parser.add_argument("--perf", metavar="PATH",
                        help="perf record the cluster in each measured window: PATH.SIDE.N(.txt)")
    parser.add_argument("--sql", action="append", default=[], metavar="SIDE=STATEMENT",
                        help="a statement run on that side's database once its server has"
                             " made it, before the load (e.g. an index's storage parameter)")
    parser.add_argument("--setting", action="append", default=[],
                        help="more name=value for the cluster (e.g. a GIN setting to try)")
    args = parser.parse_args()
    args.side_sql = {}
    for item in args.sql:
        side, statement = item.split("=", 1)
        args.side_sql.setdefault(side, []).append(statement)
    if not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        sys.exit(f"need CPUs {SERVER_CPU} and {CLIENT_CPU}")
    sides = [("new", "")] + ([("old", args.old)] if args.old else []) + [
        tuple(side.split("=", 1)) for side in args.side]
    number = 0
    with xmpp_servers.postgres((*SETTINGS, *args.setting)) as pg:
        for round_ in range(args.rounds):
            for side, src in sides if round_ % 2 else sides[::-1]:
                number += 1
                result = one_run(args, pg, side, src, number)
                print(orjson.dumps({"round": round_, **result}).decode(), flush=True)


if __name__ == "__main__":
    main()
