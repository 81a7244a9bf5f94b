"""Push latency and cost: from a message's ack (after its commit) to the
push channel's send, in-process (issue 19, perf-pushrows, perf-push2).

A started ``Runtime`` (SQLite in a temporary folder, WAL,
``synchronous=FULL``; ``push_delay`` 0) with a stand-in Web Push channel
that answers "sent" at once (in the push worker's channels, where the real
one would post). Two shapes:

- lone (default): Bob has a device and no connection, so each of Alice's
  one-to-one messages gets a push: one message at a time, the next once
  the push of the last was sent;
- ``--burst N``: N offline users, each with a device; Alice sends
  ``--per-user`` messages to each, all at once (as many in flight as
  ``--window``), and the run ends when every push was sent.

The figures: ms from the ack to the channel's send (the commit hook's
wake, the worker's read of the due work, the decision's reads, the
transaction that writes the sends and moves the queue, the read of the due
sends), pushes per second (burst), the process's CPU per pushed message,
and per pushed message the reads' hand-offs to a reader thread (a
connection checked out of the reader engine or a ``Database.read``), the
statements and the write transactions outside the message writer, and
how many of those were synced (perf-push3: the push worker's are not, on
SQLite).

    python bench/push_latency.py --messages 300 --cpu 1
    python bench/push_latency.py --burst 200 --per-user 5 --cpu 1
    python bench/push_latency.py --messages 150 --cpu 1 --postgres
    python bench/push_latency.py --burst 100 --cpu 1 --postgres --pg-stats

``--pg-stats`` (with ``--postgres``): PostgreSQL's statements over the
measured pushes (pg_stat_statements, as login_storm.py reads them; its
keys say "login" for a pushed message).

For old against new, run it with ``PYTHONPATH`` at an extracted ``src/``.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]
import uvloop
from sqlalchemy import event

from tidings.config import Settings
from tidings.domain.ids import Identity
from tidings.domain.push import Channel, Delivery, Device, PushSettings, Result
from tidings.runtime import Runtime


class StandIn:
    """A push channel that sends nothing and says "sent", noting when each
    message's push went."""

    def __init__(self) -> None:
        self.sent = asyncio.Event()
        self.at: dict[str, float] = {}

    async def send(self, app: PushSettings, device: Device,
                   payload: dict[str, Any]) -> Delivery:
        self.at[str(payload["msg_id"])] = time.perf_counter()
        self.sent.set()
        return Delivery(Result.SENT)


class Counts:
    """The store's work beside the message writer's statements: reader
    hand-offs (aiosqlite checkouts and ``Database.read`` calls), statements
    through SQLAlchemy (the writer's batch runs driver SQL, not counted),
    and write transactions (the messages' own included: one per lone
    message), and of those the synced ones (on SQLite a batch thread's
    work may commit without its fsync; PostgreSQL's are all synced)."""

    def __init__(self, rt: Runtime) -> None:
        self.handoffs = self.statements = self.writes = self.synced = 0
        db = rt.db
        event.listen(db.reader.sync_engine, "checkout", self._checkout)
        engines = {db.reader.sync_engine, db.writer.sync_engine}
        reads: Any = db.reads
        batch: Any = db.batch
        for extra in (getattr(reads, "_engine", None), getattr(batch, "engine", None)):
            if extra is not None:  # PostgreSQL's reads engine is an async one
                engines.add(getattr(extra, "sync_engine", extra))
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(db.writer.sync_engine, "commit", self._write)
        if reads is not None:
            read = reads.run

            async def counted_read(work: Any) -> Any:
                self.handoffs += 1
                return await read(work)

            reads.run = counted_read
        if batch is not None:
            write = batch.run

            async def counted_write(work: Any, *args: Any, synced: bool = True) -> Any:
                self.writes += 1
                self.synced += synced
                return await write(work, *args, synced=synced)

            batch.run = counted_write

    def _checkout(self, *_: Any) -> None:
        self.handoffs += 1

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _write(self, *_: Any) -> None:
        self.writes += 1
        self.synced += 1

    def now(self) -> tuple[int, int, int, int]:
        return self.handoffs, self.statements, self.writes, self.synced


def _stand_in(rt: Runtime, channel: StandIn) -> None:
    worker: Any = rt.push._worker
    clients = getattr(worker, "_clients", None)
    if clients is not None:  # made on the first push (adapters/push_clients.py)
        clients._channels = {Channel.WEBPUSH: channel}
    else:
        worker._channels[Channel.WEBPUSH] = channel


def _msg_id(ack: Any) -> str:
    """The pushed payload's msg_id of a send's ``Committed``."""
    return f"{ack.message.conversation_id}-{ack.message.seq}"


async def run(args: argparse.Namespace, database_url: str = "") -> dict[str, Any]:
    if getattr(args, "pg_stats", False) and database_url:
        from login_storm import PgStats  # type: ignore[import-not-found]
        args.stats = PgStats(database_url)
    with tempfile.TemporaryDirectory(prefix="tidings-push-") as tmp:
        settings = Settings(data_dir=Path(tmp), rate_limit_per_second=1e9,
                            rate_limit_burst=10**9, database_url=database_url)
        rt = await Runtime.start(settings)
        try:
            app, _ = await rt.apps.create("Bench", "", "admin")
            channel = StandIn()
            _stand_in(rt, channel)
            users = [f"u{n}" for n in range(args.burst)] if args.burst else ["bob"]
            for user in users:
                # A token per device: the same one elsewhere would be moved.
                await rt.push._store.register(app.sdkappid, user, f"{user}-phone",
                                              Channel.WEBPUSH, f'{{"endpoint": "{user}"}}',
                                              False)
            alice = Identity(app.sdkappid, "alice")
            body = orjson.dumps([{"type": "text", "text": "see you at noon"}])
            counts = Counts(rt)
            if args.burst:
                return await _burst(rt, args, alice, users, body, channel, counts)
            return await _lone(rt, args, alice, body, channel, counts)
        finally:
            await rt.stop()


async def _lone(rt: Runtime, args: argparse.Namespace, alice: Identity, body: bytes,
                channel: StandIn, counts: Counts) -> dict[str, Any]:
    ms: list[float] = []
    process = psutil.Process()
    cpu0, machine0 = process.cpu_times(), psutil.cpu_times()
    counted0 = counts.now()
    started = time.perf_counter()
    for n in range(args.warm + args.messages):
        channel.sent.clear()
        ack = await rt.messaging.send(alice, "c2c_bob", f"m{n}", body, "")
        acked = time.perf_counter()
        await asyncio.wait_for(channel.sent.wait(), 10)
        if n == args.warm:
            await _stats_begin(args)
            cpu0, machine0 = process.cpu_times(), psutil.cpu_times()
            counted0 = counts.now()
            started = acked
        if n >= args.warm:
            ms.append((channel.at[_msg_id(ack)] - acked) * 1000)
    return await _stats_end(args, _figures(process, cpu0, machine0, started, ms, counts,
                                           counted0, len(ms)))


async def _stats_begin(args: argparse.Namespace) -> None:
    stats = getattr(args, "stats", None)
    if stats is not None:
        await stats.begin()


async def _stats_end(args: argparse.Namespace, out: dict[str, Any]) -> dict[str, Any]:
    stats = getattr(args, "stats", None)
    if stats is not None:
        out["pg_stats"] = await stats.end(out["pushes"])
    return out


async def _burst(rt: Runtime, args: argparse.Namespace, alice: Identity, users: list[str],
                 body: bytes, channel: StandIn, counts: Counts) -> dict[str, Any]:
    # Warm: one message to each user, all pushed, before measuring.
    for user in users:
        await rt.messaging.send(alice, f"c2c_{user}", f"w-{user}", body, "")
    await _all_sent(channel, len(users))
    channel.at.clear()
    acked: dict[str, float] = {}
    gate = asyncio.Semaphore(args.window)

    async def one(user: str, n: int) -> None:
        async with gate:
            ack = await rt.messaging.send(alice, f"c2c_{user}", f"m{n}-{user}", body, "")
            acked[_msg_id(ack)] = time.perf_counter()

    total = len(users) * args.per_user
    await _stats_begin(args)
    process = psutil.Process()
    cpu0, machine0 = process.cpu_times(), psutil.cpu_times()
    counted0 = counts.now()
    started = time.perf_counter()
    await asyncio.gather(*(one(user, n) for n in range(args.per_user) for user in users))
    await _all_sent(channel, total)
    ms = [(channel.at[k] - t) * 1000 for k, t in acked.items()]
    out = _figures(process, cpu0, machine0, started, ms, counts, counted0, total)
    out["pushes_per_s"] = round(total / (max(channel.at.values()) - started))
    return await _stats_end(args, out)


async def _all_sent(channel: StandIn, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(channel.at) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(channel.at)} of {count} pushes sent")
        channel.sent.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(channel.sent.wait(), 1)


def _figures(process: Any, cpu0: Any, machine0: Any, started: float, ms: list[float],
             counts: Counts, counted0: tuple[int, int, int, int], pushes: int) -> dict[str, Any]:
    wall = time.perf_counter() - started
    cpu1, machine1 = process.cpu_times(), psutil.cpu_times()
    mine = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    busy = (sum(machine1) - machine1.idle - getattr(machine1, "iowait", 0.0)) - (
        sum(machine0) - machine0.idle - getattr(machine0, "iowait", 0.0))
    handoffs, statements, commits, synced = (
        b - a for a, b in zip(counted0, counts.now(), strict=True))
    ms.sort()
    return {
        "pushes": pushes,
        "push_ms_p50": round(statistics.median(ms), 2),
        "push_ms_p90": round(ms[int(len(ms) * 0.9)], 2),
        "push_ms_p99": round(ms[int(len(ms) * 0.99)], 2),
        "push_ms_max": round(ms[-1], 2),
        "cpu_us_per_pushed_message": round(mine * 1e6 / pushes),
        "read_handoffs_per_push": round(handoffs / pushes, 2),
        "statements_per_push": round(statements / pushes, 2),
        # The message's own included.
        "write_transactions_per_push": round(commits / pushes, 3),
        "synced_writes_per_push": round(synced / pushes, 3),
        # What the rest of the machine used meanwhile, of 200 (2 cores).
        "other_cpu_pct": round(100 * (busy - mine) / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--burst", type=int, default=0,
                        help="this many offline users receive messages at once")
    parser.add_argument("--per-user", type=int, default=5)
    parser.add_argument("--window", type=int, default=64, help="sends in flight (burst)")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to this CPU")
    parser.add_argument("--postgres", action="store_true",
                        help="on a PostgreSQL cluster of its own, pinned to core 0"
                             " (bench/xmpp_servers.py); its CPU per push is reported too")
    parser.add_argument("--pg-stats", action="store_true",
                        help="with --postgres: pg_stat_statements over the measured pushes")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if not args.postgres:
        print(json.dumps(uvloop.run(run(args))))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import xmpp_servers

    settings = (("shared_preload_libraries=pg_stat_statements",
                 "pg_stat_statements.track=all") if args.pg_stats else ())
    with xmpp_servers.postgres(settings) as pg:
        cpu0 = pg.cpu_seconds()
        found = uvloop.run(run(args, pg.url))
        # The whole run's (start-up, warm-up included): an upper bound.
        found["postgres_cpu_us_per_pushed_message_whole_run"] = round(
            (pg.cpu_seconds() - cpu0) * 1e6 / found["pushes"])
    print(json.dumps(found))


if __name__ == "__main__":
    main()
