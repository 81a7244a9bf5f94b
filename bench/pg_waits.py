"""PostgreSQL at saturation: where the time goes (issue 19, perf-pgsat4).

pg_saturation.py's run (one cluster from xmpp_servers.postgres(): fsync and
synchronous_commit on, pinned to CPU 0 with the server; a fresh database and
``tidings serve`` per run; chat_load's 50 pairs, window 16), and in its
measured window:

- **CPU 0** (the server's and the cluster's core) from ``/proc/stat``: busy,
  idle and iowait shares; the server's and the cluster's CPU (the writer's
  backend apart) as shares of the window;
- **the writer's backend** sampled every ``--every-ms`` from ``/proc``: its
  state (R: on the CPU or waiting for it, D: in the disk's wait, S: asleep:
  waiting for the server's next statement, or a latch/lock), with the
  server's threads' and the rest of the cluster's (``states_pct``;
  ``none_runnable_pct``: none of them wanted the CPU, which on a quiet
  machine is the core's idle of theirs);
- **``pg_stat_activity``** every ``--activity-ms``: each backend's state and
  wait event (the sampler's own backend left out; its queries cost the
  cluster ~0.2 ms each, on CPU 0: ``--activity-ms 0`` for none);
- **the writer's batches** (bench/pg_waits_hook/sitecustomize.py, put first
  on the server's ``PYTHONPATH``): each batch's size, the queue left behind
  it, and its times: formed -> statement sent (the rows' Python) -> answered
  (the statement, with its commit on the short way) -> returned -> commit
  hook done (acks, frames) -> next batch formed; and the share of the
  window in which the writer's connection had no statement in flight
  (from one batch's answer to the next one's statement sent);
- **``pg_stat_wal``** over the window: WAL bytes, full-page images and
  records per acked message, and the WAL writes and syncs.

``--pg-cpu 1`` moves the cluster off the server's CPU (onto the clients'):
the database on a core of its own. ``--prewarm-wal MB`` writes that much
WAL on the cluster and checkpoints before the runs, so the runs reuse
recycled WAL segments as a server running for a while does, instead of
creating (zero-filling and syncing) a new 16 MB segment every ~16 MB of
WAL as a fresh cluster's first writes do.

``--old SRC`` alternates an old ``src/`` run by run, as pg_saturation does::

    python bench/pg_waits.py --rounds 2 --duration 8
    python bench/pg_waits.py --old /tmp/old/src --rounds 3 --duration 8
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import chat_load
import orjson
import pg_saturation
import psutil
import uvloop
import xmpp_servers
from chat_load import CLIENT_CPU, SERVER_CPU

HOOK = str(Path(__file__).resolve().parent / "pg_waits_hook")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_line(cpu: int) -> list[int]:
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                return [int(v) for v in line.split()[1:]]
    raise RuntimeError(f"no cpu{cpu} in /proc/stat")


def proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return 0.0


def proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def _task_state(path: str) -> str:
    try:
        with open(path + "/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


ACTIVITY = """SELECT pid, backend_type, state, wait_event_type, wait_event, left(query, 30) AS q
    FROM pg_stat_activity WHERE pid <> pg_backend_pid()"""


class Window:
    """The samplers of one measured window (a thread: states by /proc; a
    task: pg_stat_activity)."""

    def __init__(self, server: int, postmaster: int, writer: int, every: float,
                 activity: float, url: str) -> None:
        self.server, self.postmaster, self.writer = server, postmaster, writer
        self.every, self.activity, self.url = every, activity, url
        self.states: collections.Counter[str] = collections.Counter()
        self.pair: collections.Counter[str] = collections.Counter()
        self.events: collections.Counter[str] = collections.Counter()
        self.activity_samples = 0
        self._stop = threading.Event()

    def _states(self) -> None:
        os.sched_setaffinity(0, {CLIENT_CPU})
        tasks = [f"/proc/{self.server}/task/{t}" for t in os.listdir(f"/proc/{self.server}/task")]
        others = [p for p in self.pg_pids() if p != self.writer]
        while not self._stop.is_set():
            writer = proc_state(self.writer)
            self.states[writer] += 1
            server = "R" if any(_task_state(t) == "R" for t in tasks) else "S"
            cluster = "R" if any(proc_state(p) == "R" for p in others) else "S"
            # Neither the server nor a backend wants the CPU: on a core of
            # their own, it would be idle.
            self.pair[f"server {server} writer {writer} rest {cluster}"] += 1
            time.sleep(self.every)

    async def _activity(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            while not self._stop.is_set():
                for r in await conn.fetch(ACTIVITY):
                    who = ("writer" if r["pid"] == self.writer else
                           r["backend_type"] if r["backend_type"] != "client backend" else
                           "other client")
                    if r["backend_type"] == "client backend" and r["state"] != "active":
                        what = r["state"] or "?"
                    else:
                        what = f"{r['wait_event_type'] or 'CPU'}:{r['wait_event'] or '-'}"
                    self.events[f"{who} {what}"] += 1
                self.activity_samples += 1
                await asyncio.sleep(self.activity)
        finally:
            await conn.close()

    def pg_pids(self) -> list[int]:
        return [p.pid for p in psutil.Process(self.postmaster).children()] + [self.postmaster]

    async def run(self, seconds: float) -> dict[str, Any]:
        pids = self.pg_pids()
        c0, t0 = cpu_line(SERVER_CPU), time.perf_counter()
        s0, w0 = proc_cpu(self.server), proc_cpu(self.writer)
        p0 = sum(proc_cpu(p) for p in pids)
        wal0 = await self._wal()
        thread = threading.Thread(target=self._states, daemon=True)
        thread.start()
        task = asyncio.create_task(self._activity()) if self.activity > 0 else None
        await asyncio.sleep(seconds)
        self._stop.set()
        c1, t1 = cpu_line(SERVER_CPU), time.perf_counter()
        s1, w1 = proc_cpu(self.server), proc_cpu(self.writer)
        p1 = sum(proc_cpu(p) for p in pids)
        if task is not None:
            await task
        thread.join()
        wal1 = await self._wal()
        d = [b - a for a, b in zip(c0, c1, strict=True)]
        total = sum(d[:8]) or 1  # user nice system idle iowait irq softirq steal
        wall = t1 - t0
        n = sum(self.states.values()) or 1
        return {
            "t0": t0, "t1": t1,
            "cpu0_pct": {"busy": round(100 * (total - d[3] - d[4]) / total, 1),
                         "idle": round(100 * d[3] / total, 1),
                         "iowait": round(100 * d[4] / total, 1)},
            "server_pct": round(100 * (s1 - s0) / wall, 1),
            "writer_backend_pct": round(100 * (w1 - w0) / wall, 1),
            "other_postgres_pct": round(100 * ((p1 - p0) - (w1 - w0)) / wall, 1),
            "writer_backend_states_pct": {k: round(100 * v / n, 1)
                                          for k, v in sorted(self.states.items())},
            "states_pct": {k: round(100 * v / n, 1) for k, v in sorted(self.pair.items())},
            "none_runnable_pct": round(100 * sum(
                v for k, v in self.pair.items() if "R" not in k.split()[1::2]) / n, 1),
            "activity": {k: round(v / max(self.activity_samples, 1), 3)
                         for k, v in self.events.most_common(16)},
            "wal": {k: float(wal1[k]) - float(wal0[k]) for k in wal0},
        }

    async def _wal(self) -> dict[str, Any]:
        conn = await asyncpg.connect(self.url)
        try:
            return dict(await conn.fetchrow(WAL))
        finally:
            await conn.close()


WAL = """SELECT wal_records, wal_fpi, wal_bytes, wal_write, wal_sync,
    (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter) AS checkpoints
    FROM pg_stat_wal"""


async def writer_pid(url: str) -> int:
    """The writer's backend: the one that ran the batch's statement last."""
    conn = await asyncpg.connect(url)
    try:
        for _ in range(200):
            pid = await conn.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE '%unnest%messages%'"
                " AND pid <> pg_backend_pid() ORDER BY query_start DESC LIMIT 1")
            if pid:
                return int(pid)
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    raise RuntimeError("no writer backend found")


def timeline(folder: Path, t0: float, t1: float) -> dict[str, Any]:
    """The batches formed inside [t0, t1]: their sizes and phases."""
    rows: list[list[float]] = []
    for path in folder.glob("*.tsv"):
        for line in path.read_text().splitlines():
            v = [float(x) for x in line.split("\t")]
            if len(v) == 7:
                rows.append(v)
    rows.sort()
    inside = [(r, rows[i + 1][0]) for i, r in enumerate(rows[:-1]) if t0 <= r[0] <= t1]
    if not inside:
        return {}
    sizes = [r[1] for r, _ in inside]
    phases: dict[str, list[float]] = collections.defaultdict(list)
    for r, nxt in inside:
        formed, _, _, sent, answered, returned, hooked = r
        if sent:
            phases["rows"].append(sent - formed)
            phases["statement"].append(answered - sent)
            phases["after"].append(returned - answered)
        else:
            phases["run_write"].append(returned - formed)
        phases["hook"].append(hooked - returned)
        phases["gap"].append(nxt - hooked)
    span = inside[-1][1] - inside[0][0][0]
    # The writer's connection with no statement in flight: from a batch's
    # answer to the next batch's statement sent (the database waits for the
    # server); on the short way each statement carries its commit.
    idle = [max(0.0, nxt[3] - r[4]) for r, nxt in itertools.pairwise(rows)
            if t0 <= r[0] <= t1 and r[4] and nxt[3]]
    return {
        "batches": len(inside),
        "size": {"mean": round(statistics.fmean(sizes), 1),
                 "p10": sorted(sizes)[len(sizes) // 10], "p50": statistics.median(sizes),
                 "p90": sorted(sizes)[9 * len(sizes) // 10]},
        "queued_after_mean": round(statistics.fmean(r[2] for r, _ in inside), 1),
        "ms_mean": {k: round(1000 * statistics.fmean(v), 3) for k, v in phases.items()},
        "share_pct": {k: round(100 * sum(v) / span, 1) for k, v in phases.items()},
        "long_way": sum(1 for r, _ in inside if not r[3]),
        "connection_idle_pct": round(100 * sum(idle) / span, 1),
        "connection_idle_ms_mean": round(1000 * statistics.fmean(idle), 3) if idle else None,
    }


def one_run(args: argparse.Namespace, pg: xmpp_servers.Postgres, side: str, src: str,
            number: int) -> dict[str, Any]:
    database = f"waits_{number}"
    uvloop.run(pg_saturation.admin(pg.url, f"CREATE DATABASE {database}"))
    url = pg.url.rsplit("/", 1)[0] + "/" + database
    folder = Path(tempfile.mkdtemp(prefix="pg-waits-timeline-"))
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "PGWAITS_TIMELINE")}
    own = src or str(Path(__file__).resolve().parent.parent / "src")
    os.environ["PYTHONPATH"] = f"{HOOK}:{own}" if args.timeline else own
    os.environ["PGWAITS_TIMELINE"] = str(folder)
    load = pg_saturation.load_args(args, url)
    try:
        with chat_load.own_server(load) as target:
            uvloop.run(pg_saturation.admin_db(
                url, database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
                "SELECT pg_stat_statements_reset()"))
            os.sched_setaffinity(0, {CLIENT_CPU})
            result, window = uvloop.run(measured(target, load, args, pg, url))
            os.sched_setaffinity(0, {SERVER_CPU, CLIENT_CPU})
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    batches = timeline(folder, window["t0"], window["t1"])
    shutil.rmtree(folder, ignore_errors=True)
    acked = round(result["acked_per_s"] * result["duration_s"])
    statements = uvloop.run(pg_saturation.top(pg.url, database, 3, acked))
    keep = ("acked_per_s", "server_us_per_msg", "server_cpu_pct", "server_cpu_wait_pct",
            "other_cpu_pct", "latency_ms", "ok")
    wal = window.pop("wal")
    in_window = max(result["acked_per_s"] * (window["t1"] - window["t0"]), 1)
    window["wal_per_msg"] = {"bytes": round(wal["wal_bytes"] / in_window),
                             "fpi": round(wal["wal_fpi"] / in_window, 3),
                             "records": round(wal["wal_records"] / in_window, 2)}
    window["wal_writes_syncs"] = [wal["wal_write"], wal["wal_sync"]]
    window["checkpoints"] = wal["checkpoints"]
    return {"side": side, **{k: result[k] for k in keep},
            "window": {k: v for k, v in window.items() if k not in ("t0", "t1")},
            "batches": batches,
            "statements": [{k: s[k] for k in ("query", "calls", "exec_us_per_msg")}
                           for s in statements]}


async def measured(target: Any, load: argparse.Namespace, args: argparse.Namespace,
                   pg: xmpp_servers.Postgres, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    dsn = pg_saturation.dsn(url, url.rsplit("/", 1)[1])

    async def sample() -> dict[str, Any]:
        await asyncio.sleep(load.warmup)
        await pg_saturation.admin_db(url, url.rsplit("/", 1)[1],
                                     "SELECT pg_stat_statements_reset()")
        writer = await writer_pid(dsn)
        window = Window(target.pid, pg.pid, writer, args.every_ms / 1000,
                        args.activity_ms / 1000, dsn)
        return await window.run(load.duration - 0.5)

    sampling = asyncio.create_task(sample())
    result = await chat_load.bench(target, load)
    return result, await sampling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="", help="an old src/ to alternate with this one")
    parser.add_argument("--new", default="", help="this side's src/ (default: this checkout's)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--push", choices=["on", "off", "app"], default="on")
    parser.add_argument("--every-ms", type=float, default=1.0, help="the backend's state")
    parser.add_argument("--activity-ms", type=float, default=20.0,
                        help="pg_stat_activity (0: none)")
    parser.add_argument("--no-timeline", dest="timeline", action="store_false")
    parser.add_argument("--pg-cpu", type=int, default=None,
                        help="move the cluster to this CPU (default: the server's, CPU 0)")
    parser.add_argument("--prewarm-wal", type=int, default=0, metavar="MB",
                        help="write this much WAL and checkpoint before the runs")
    args = parser.parse_args()
    args.profile = None
    sides = [("new", args.new)] + ([("old", args.old)] if args.old else [])
    number = 0
    with xmpp_servers.postgres(pg_saturation.SETTINGS, prewarm_wal_mb=args.prewarm_wal) as pg:
        if args.pg_cpu is not None:
            # The cluster on another CPU than the server's (the clients'):
            # the database on a core of its own, as a deployment has it.
            for proc in [psutil.Process(pg.pid), *psutil.Process(pg.pid).children()]:
                proc.cpu_affinity([args.pg_cpu])
        for round_ in range(args.rounds):
            for side, src in sides if round_ % 2 else sides[::-1]:
                number += 1
                result = one_run(args, pg, side, src, number)
                print(orjson.dumps({"round": round_, **result}).decode(), flush=True)


if __name__ == "__main__":
    main()
