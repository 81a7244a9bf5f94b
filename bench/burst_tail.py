"""The latency at ``--rate`` msg/s right after a saturation burst, on one server (issue 19).

bench/xmpp_compare.py's ``--shapes saturation,latency`` on Tidings alone, with
chat_load's ``--tail`` probe (bench/tail_probe) on the latency run: which of the
server's intervals (the writer's later work, checkpoints, collections, the
loop's stalls) the slow messages met, the p99 of each 2 s of the measured
window (work left by the burst shows as one slow stretch, the machine's other
load anywhere), and the later work's steps over 4 ms in the window (``later``:
an FTS5 index step or merge, bench/journal/perf-burst.md, "perf-burst").

    python bench/burst_tail.py --tail /tmp/burst.jsonl              # burst, then latency
    python bench/burst_tail.py --tail /tmp/fresh.jsonl --burst 0    # latency on a fresh server
    python bench/burst_tail.py --tail /tmp/burst.jsonl --text varied  # text varying per message

``--writer N``: no server, no network: N messages into a ``MessageWriter``
with search's rows at once (batches of ``--batch``, back to back: the
writer never idle, as at saturation), then until the later work is done;
the search step's and merges' thread CPU in the burst and after it, the
most one took, and FTS5's levels at the burst's end (each level's merge
under way and segments): what the burst leaves, whatever the machine's
other load (thread CPU).

    python bench/burst_tail.py --writer 200000 --text same
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import chat_load
import login_storm
import tail_report
import uvloop
from chat_load import CLIENT_CPU, SERVER_CPU

SLOW_LATER_NS = 4_000_000


def windows(flights: list[tuple[int, int]], width_s: float = 2.0) -> list[dict[str, Any]]:
    """The measured messages' p50/p99 per ``width_s`` of send time."""
    first = min(s for s, _ in flights)
    found: dict[int, list[int]] = {}
    for sent, received in flights:
        found.setdefault(int((sent - first) / (width_s * 1e9)), []).append(received - sent)
    out = []
    for i, lat in sorted(found.items()):
        lat.sort()
        out.append({"from_s": i * width_s, "n": len(lat),
                    "p50_ms": round(lat[len(lat) // 2] / 1e6, 2),
                    "p99_ms": round(lat[int(len(lat) * 0.99)] / 1e6, 2)})
    return out


def slow_later(flights: list[tuple[int, int]], path: Path) -> list[dict[str, Any]]:
    """The later work's transactions over 4 ms in the measured window."""
    first, last = min(s for s, _ in flights), max(r for _, r in flights)
    out = []
    with path.open() as f:
        for line in f:
            event = json.loads(line)
            if (isinstance(event, list) and event[0] == "later" and first <= event[1] <= last
                    and event[2] - event[1] > SLOW_LATER_NS):
                phases = event[3] if len(event) > 3 else {}
                out.append({"at_s": round((event[1] - first) / 1e9, 3),
                            "ms": round((event[2] - event[1]) / 1e6, 2),
                            "cpu_ms": round(phases.get("cpu", 0) / 1e6, 2),
                            "runq_ms": round(phases.get("runq", 0) / 1e6, 2)})
    return out


def later_cpu(flights: list[tuple[int, int]], path: Path, burst_end: int) -> dict[str, Any]:
    """The later work's transactions in the burst, after it (its drain, the
    latency run's connections and warm-up: what the burst left) and in the
    measured window: how many, their CPU in all and the most one took
    (thread CPU: what the machine's other load does not change)."""
    first, last = min(s for s, _ in flights), max(r for _, r in flights)
    found: dict[str, list[float]] = {"burst": [], "after_burst": [], "window": []}
    with path.open() as f:
        for line in f:
            event = json.loads(line)
            if isinstance(event, list) and event[0] == "later" and event[1] <= last:
                phases = event[3] if len(event) > 3 else {}
                when = ("window" if event[1] >= first else
                        "after_burst" if event[1] >= burst_end else "burst")
                found[when].append(phases.get("cpu", 0) / 1e6)
    return {when: {"n": len(cpu), "cpu_ms": round(sum(cpu), 1),
                   "max_cpu_ms": round(max(cpu, default=0.0), 2),
                   "over_4ms": sum(c > 4 for c in cpu)} for when, cpu in found.items()}


def levels_of(record: bytes) -> list[tuple[int, int]]:
    """FTS5's structure record (SQLite 3.40's layout): each level's merge
    under way and its segments (store/search_index.py ``structure``, here
    for an older tree's too)."""
    values, at = [], 4
    while at < len(record):
        value = 0
        for i in range(9):
            byte = record[at]
            at += 1
            if i == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        values.append(value)
    out, at = [], 3
    for _ in range(values[0]):
        merging, segments = values[at], values[at + 1]
        out.append((merging, segments))
        at += 2 + 3 * segments
    return out


async def writer_burst(count: int, text: str, batch: int) -> dict[str, Any]:
    import tempfile

    from sqlalchemy import text as sql

    from tidings.domain.ids import ConversationKey, ConversationKind
    from tidings.domain.records import NewMessage
    from tidings.store.engine import migrate, open_database
    from tidings.store.search import TextRows
    from tidings.store.search_index import FtsIndex
    from tidings.store.writer import MessageWriter

    chat_load.set_text(text)
    steps: dict[str, list[float]] = {"burst": [], "after": []}
    phase = ["burst"]
    index = FtsIndex()
    run = index.run

    def timed(conn: Any) -> None:
        begin = time.thread_time()
        run(conn)
        steps[phase[0]].append(1e3 * (time.thread_time() - begin))

    index.run = timed  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="burst-writer-") as tmp:
        db = open_database(f"sqlite+aiosqlite:///{tmp}/t.db", 1000)
        await migrate(db)
        writer = MessageWriter(db, max_batch=batch, on_commit=lambda _: None)
        writer.register(TextRows(db, index))
        writer.start()
        keys = [ConversationKey(1400000043, ConversationKind.C2C, f"u{2 * i}", f"u{2 * i + 1}")
                for i in range(50)]
        texts = chat_load.texts
        requests = [NewMessage(keys[i % 50], keys[i % 50].a, str(i), json.dumps(
            [{"type": "text", "text": texts[i % len(texts)].decode()}]), "")
            for i in range(count)]
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(writer.submit(r) for r in requests))
        cpu1, t1 = time.process_time(), time.perf_counter()
        phase[0] = "after"
        async with db.reader.connect() as conn:
            record = (await conn.execute(sql(
                "SELECT block FROM message_texts_fts_data WHERE id = 10"))).scalar()
            left = (await conn.execute(sql(
                "SELECT (SELECT max(rowid) FROM messages)"
                " - (SELECT built_to FROM message_texts_fts_built)"))).scalar_one()
        levels = levels_of(bytes(record)) if record else []
        # Until the later work is done: nothing due, or only a wait (a big
        # merge's) that has passed with nothing run.
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            wait, ran = index.wait(), len(steps["after"])
            if wait is None:
                break
            await asyncio.sleep(max(0.05, min(wait, 1.0)) + 0.05)
            if len(steps["after"]) == ran and index.wait() is not None and wait > 0.5:
                break
        cpu2, t2 = time.process_time(), time.perf_counter()
        await writer.stop()
        await db.dispose()

    def summary(cpu: list[float]) -> dict[str, Any]:
        return {"n": len(cpu), "cpu_ms": round(sum(cpu), 1),
                "max_cpu_ms": round(max(cpu, default=0.0), 2),
                "over_4ms": sum(c > 4 for c in cpu)}

    return {"messages": count, "text": text, "batch": batch,
            "burst": {"s": round(t1 - t0, 2), "msg_per_s": round(count / (t1 - t0)),
                      "cpu_us_per_msg": round(1e6 * (cpu1 - cpu0) / count, 1),
                      "steps": summary(steps["burst"])},
            "at_burst_end": {"rows_left": left, "levels": levels,
                             "segments": sum(n for _, n in levels)},
            "after": {"s": round(t2 - t1, 2), "process_cpu_ms": round(1e3 * (cpu2 - cpu1), 1),
                      "steps": summary(steps["after"]),
                      "us_per_msg": round(1e6 * (cpu2 - cpu1) / count, 2)},
            "sustained_us_per_msg": round(1e6 * (cpu2 - cpu0) / count, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tail", metavar="PATH", help="the probe's file (not with --writer)")
    parser.add_argument("--writer", type=int, metavar="N",
                        help="N messages into a writer in this process instead (see above)")
    parser.add_argument("--batch", type=int, default=900, help="--writer: the batches")
    parser.add_argument("--burst", type=float, default=20.0,
                        help="saturation seconds before (0: a fresh server)")
    parser.add_argument("--duration", type=float, default=20.0, help="latency: measured seconds")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--window", type=int, default=16, help="saturation: unacked per client")
    parser.add_argument("--text", choices=["same", "varied"], default="same",
                        help="the messages' text (bench/chat_load.py's --text)")
    args = parser.parse_args()
    if args.writer:
        print(json.dumps(asyncio.run(writer_burst(args.writer, args.text, args.batch))),
              flush=True)
        return
    if not args.tail:
        parser.error("--tail is needed (or --writer)")
    if not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        sys.exit(f"need CPUs {SERVER_CPU} and {CLIENT_CPU} (server on one, clients on the other)")
    tail = Path(args.tail)
    common = {"database_url": "", "push": "on", "callback": "none", "show_server_log": False,
              "profile": None, "pairs": args.pairs, "rate": args.rate, "warmup": 2.0,
              "drain_timeout": 5.0, "in_flight": 100, "conversations": 1, "seeded": 200,
              "window": args.window, "text": args.text,
              "server_env": login_storm.CROWD | tail_report.server_env(tail)}
    burst = argparse.Namespace(**common, mode="throughput", duration=args.burst, tail=None)
    latency = argparse.Namespace(**common, mode="latency", duration=args.duration, tail=str(tail))
    found: dict[str, Any] = {}
    with chat_load.own_server(burst) as target:
        os.sched_setaffinity(0, {CLIENT_CPU})  # after the server was spawned

        async def both() -> None:
            if args.burst > 0:
                found["burst"] = await chat_load.bench(target, burst)
            found["burst_end"] = time.perf_counter_ns()  # the probe's clock
            found["latency"] = await chat_load.bench(target, latency)

        uvloop.run(both())
    flights = latency.tail_flights  # the probe writes when the server stops
    result = {"burst": {k: found.get("burst", {}).get(k)
                        for k in ("delivered_per_s", "server_cpu_pct", "other_cpu_pct")},
              "latency": {k: found["latency"].get(k)
                          for k in ("latency_ms", "server_cpu_pct", "other_cpu_pct", "ok")},
              "p99_by_2s": windows(flights), "later_over_4ms": slow_later(flights, tail),
              "later_cpu": later_cpu(flights, tail, found["burst_end"]),
              "tail": tail_report.report(flights, tail)}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
