"""Logins and idle connections: what a reconnect storm and a crowd of idle
clients cost the server (issue 19's login and memory targets).

Starts its own ``tidings serve`` pinned to CPU 0 (as bench/chat_load.py does),
the clients in this process on CPU 1. Two modes:

- ``storm``: ``--users`` clients, ``--in-flight`` at a time, each opens a
  WebSocket, logs in, runs the first ``sync`` with ``limit: 0`` and closes.
  Two rounds: ``first`` (each user's first login ever: the account is created)
  and ``again`` (the same users, as after a server restart). For each: logins
  per second and the server's CPU per login (upgrade + login + sync).
- ``idle``: ``--users`` clients log in, sync and stay connected, answering
  pings; the server's RSS before and after gives the memory per idle
  connection.
- ``crowd``: the same from ``--loaders`` processes, each with a source
  address of its own (bench/idle_crowd.py): for crowds past what one
  process's files and one address's ports allow (100,000: see
  docs/deploy.md, "Many connections"); also the login rate while it fills
  and the RSS as it grows.

Each user has ``--conversations`` one-to-one conversations with one message
each (sent through the admin API before the run), so the first sync has
something to count.

    python bench/login_storm.py --mode storm --users 2000
    python bench/login_storm.py --mode idle --users 5000
    python bench/login_storm.py --mode crowd --users 19000 --loaders 2
    python bench/login_storm.py --mode storm --database-url postgresql+asyncpg://...

``--pg-stats`` (PostgreSQL with pg_stat_statements loaded, as
bench/pg_login_split.py starts it): each storm round also reports
PostgreSQL's CPU per login (all of the cluster's processes) and, by
statement, the calls and the execution time per login.

Prints one JSON line. Figures, not assertions: compare runs made side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from chat_load import Target, run_on_own_server, thread_cpu
from idle_crowd import crowd
from profile_layers import Profiler
from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]
from ws_client import Client, connect, disconnect_all

# Room for the crowd: the per-address cap (issue 18) counts every bench
# client, which all come from 127.0.0.1.
CROWD = {"TIDINGS_MAX_CONNECTIONS": "200000", "TIDINGS_MAX_CONNECTIONS_PER_ADDRESS": "200000"}


def admin_post(target: Target, path: str, body: dict[str, Any]) -> Any:
    signer = TLSSigAPIv2(target.sdkappid, target.key)
    request = urllib.request.Request(
        f"{target.base_url}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {signer.gen_sig('administrator', 3600)}"})
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.loads(r.read())


def seed(target: Target, users: list[str], conversations: int) -> None:
    """Each user gets ``conversations`` one-to-one conversations, one message each."""
    for i, user in enumerate(users):
        peers = [users[(i + k + 1) % len(users)] for k in range(conversations)]
        admin_post(target, "/v1/admin/messages/batch", {
            "from": user, "to": peers, "client_msg_id": f"seed-{user}",
            "elements": [{"type": "text", "text": "hello"}]})


def busy_cpu() -> float:
    """The whole machine's busy CPU seconds so far."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0))


def server_cpu(process: Any) -> float:
    if process is None:
        return 0.0
    t = process.cpu_times()
    return float(t.user + t.system)


class PgStats:
    """PostgreSQL's side of a round: its processes' CPU and pg_stat_statements."""

    def __init__(self, url: str) -> None:
        self._url = url.replace("postgresql+asyncpg://", "postgresql://")
        self._conn: Any = None
        self._postmaster: Any = None
        self._cpu0 = 0.0

    def _cluster_cpu(self) -> float:
        # The postmaster's reaped children count too: a backend that ended
        # in the round (a pool's overflow connection closed) took its CPU
        # out of the live ones' sum.
        t = self._postmaster.cpu_times()
        total = float(t.user + t.system + t.children_user + t.children_system)
        for p in self._postmaster.children():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    async def begin(self) -> None:
        if self._conn is None:
            import asyncpg  # type: ignore[import-untyped]
            self._conn = await asyncpg.connect(self._url)
            await self._conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self._postmaster = psutil.Process(
                await self._conn.fetchval("SELECT pg_backend_pid()")).parent()
        await self._conn.execute("SELECT pg_stat_statements_reset()")
        self._cpu0 = self._cluster_cpu()

    async def end(self, logins: int) -> dict[str, Any]:
        cpu = self._cluster_cpu() - self._cpu0
        rows = await self._conn.fetch(
            "SELECT query, calls, total_exec_time, total_plan_time, rows FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC")
        n = max(logins, 1)
        return {"pg_cpu_ms_per_login": round(cpu * 1000 / n, 3),
                "statements_per_login": round(sum(r["calls"] for r in rows) / n, 2),
                "exec_us_per_login": round(sum(r["total_exec_time"] for r in rows) * 1000 / n, 1),
                # 0 unless the cluster sets pg_stat_statements.track_planning.
                "plan_us_per_login": round(sum(r["total_plan_time"] for r in rows) * 1000 / n, 1),
                "by_statement": [{"calls_per_login": round(r["calls"] / n, 3),
                                  "exec_us_per_login": round(r["total_exec_time"] * 1000 / n, 1),
                                  "plan_us_per_login": round(r["total_plan_time"] * 1000 / n, 1),
                                  "query": " ".join(r["query"].split())[:160]}
                                 for r in rows[:12]]}


async def storm_round(target: Target, users: list[str], in_flight: int,
                      process: Any, profile: str = "",
                      pg: PgStats | None = None) -> dict[str, Any]:
    signer = TLSSigAPIv2(target.sdkappid, target.key)
    gate = asyncio.Semaphore(in_flight)
    failures: list[str] = []

    async def one(user: str) -> None:
        async with gate:
            try:
                client = await connect(target.base_url, target.sdkappid, signer,
                                       lambda: Client(user))
            except Exception as exc:  # a refusal is a figure, not a crash
                failures.append(f"{user}: {exc}")
                return
            disconnect_all([client])

    if pg is not None:
        await pg.begin()
    profiler = Profiler(target.pid, Path(profile)) if profile and target.pid else None
    cpu0, t0, threads0 = server_cpu(process), time.perf_counter(), thread_cpu(process)
    box0, own0 = busy_cpu(), time.process_time()
    await asyncio.gather(*(one(u) for u in users))
    wall, cpu = time.perf_counter() - t0, server_cpu(process) - cpu0
    others = busy_cpu() - box0 - cpu - (time.process_time() - own0)
    threads1 = thread_cpu(process)
    done = len(users) - len(failures)
    result = {"logins": done, "failures": len(failures), "first_failure": failures[:1],
              "per_s": round(done / wall, 1),
              "server_cpu_ms_per_login": round(cpu * 1000 / max(done, 1), 3),
              # Everything else on the box (out of 200 %): high values mean a noisy run.
              "other_cpu_pct": round(100 * others / wall, 1),
              # The same by thread: the event loop's user and system time, the
              # other threads' (the database's workers, the writer).
              "by_thread_ms": {f"{key}_{kind}": round(
                  1000 * (threads1[key][i] - threads0[key][i]) / max(done, 1), 3)
                  for key in ("loop", "threads") for i, kind in enumerate(("user", "system"))}}
    if profiler is not None:
        result["profile_pct"] = await asyncio.to_thread(profiler.finish)
    if pg is not None:
        result["postgres"] = await pg.end(done)
    return result


async def idle(target: Target, users: list[str], in_flight: int, process: Any) -> dict[str, Any]:
    signer = TLSSigAPIv2(target.sdkappid, target.key)
    gate = asyncio.Semaphore(in_flight)
    clients: list[Client] = []

    async def one(user: str) -> None:
        async with gate:
            clients.append(await connect(target.base_url, target.sdkappid, signer,
                                         lambda: Client(user)))

    await asyncio.sleep(1)
    before = int(process.memory_info().rss) if process is not None else 0
    await asyncio.gather(*(one(u) for u in users))
    await asyncio.sleep(3)  # let the server settle (buffers, caches)
    after = int(process.memory_info().rss) if process is not None else 0
    errors = disconnect_all(clients)
    return {"connections": len(clients), "rss_before_mib": round(before / 2**20, 1),
            "rss_after_mib": round(after / 2**20, 1),
            "kib_per_connection": round((after - before) / 1024 / max(len(clients), 1), 2),
            "errors": errors[:3]}


async def bench(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    run = secrets.token_hex(3)
    users = [f"u{run}-{i}" for i in range(args.users)]
    process = psutil.Process(target.pid) if target.pid else None
    seeded = users[: args.seeded] if args.conversations and args.mode != "crowd" else []
    t0 = time.perf_counter()
    await asyncio.to_thread(seed, target, seeded, args.conversations)
    result: dict[str, Any] = {
        "mode": args.mode, "users": args.users, "in_flight": args.in_flight,
        "conversations": args.conversations, "seeded_users": len(seeded),
        "seed_s": round(time.perf_counter() - t0, 1),
        "database": target.database, "server_commit": target.commit}
    if args.mode == "storm":
        profile = args.profile or ""
        pg = PgStats(args.database_url) if getattr(args, "pg_stats", False) else None
        result["first"] = await storm_round(target, users, args.in_flight, process,
                                            profile and f"{profile}.first", pg)
        result["again"] = await storm_round(target, users, args.in_flight, process,
                                            profile and f"{profile}.again", pg)
        result["ok"] = not (result["first"]["failures"] or result["again"]["failures"])
    elif args.mode == "crowd":
        result["crowd"] = await crowd(target, args.users, args.loaders, args.in_flight,
                                      process, args.fill_timeout, args.idle_s)
        result["ok"] = result["crowd"]["connections"] == args.users
    else:
        result["idle"] = await idle(target, users, args.in_flight, process)
        result["ok"] = result["idle"]["connections"] == args.users
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("storm", "idle", "crowd"), default="storm")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=100,
                        help="clients connecting at once")
    parser.add_argument("--conversations", type=int, default=1,
                        help="one-to-one conversations per seeded user")
    parser.add_argument("--seeded", type=int, default=200,
                        help="how many users get conversations (seeding is by REST, slow)")
    parser.add_argument("--database-url", default="",
                        help="TIDINGS_DATABASE_URL for our server (default: SQLite)")
    parser.add_argument("--loaders", type=int, default=0,
                        help="crowd: client processes (default: one per 15,000 users)")
    parser.add_argument("--fill-timeout", type=float, default=300,
                        help="crowd: give up filling after this many seconds")
    parser.add_argument("--idle-s", type=float, default=30,
                        help="crowd: seconds idle after filling (the heartbeat pings "
                             "come after 25 s of silence), for the idle CPU and RSS")
    parser.add_argument("--show-server-log", action="store_true")
    parser.add_argument("--pg-stats", action="store_true",
                        help="storm on PostgreSQL: its CPU and pg_stat_statements per login "
                             "(the cluster must load pg_stat_statements)")
    parser.add_argument("--profile", metavar="PATH",
                        help="storm: py-spy the server in each round, raw stacks to "
                             "PATH.first and PATH.again (bench/profile_layers.py)")
    args = parser.parse_args()
    args.callback = "none"
    args.loaders = args.loaders or -(-args.users // 15000)
    args.server_env = CROWD
    with contextlib.suppress(KeyboardInterrupt):
        run_on_own_server(args, bench, sockets=2 * args.users)


if __name__ == "__main__":
    main()
