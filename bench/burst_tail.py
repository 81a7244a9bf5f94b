"""The latency at ``--rate`` msg/s right after a saturation burst, on one server (issue 19).

bench/xmpp_compare.py's ``--shapes saturation,latency`` on Tidings alone, with
chat_load's ``--tail`` probe (bench/tail_probe) on the latency run: which of the
server's intervals (the writer's later work, checkpoints, collections, the
loop's stalls) the slow messages met, the p99 of each 2 s of the measured
window (work left by the burst shows as one slow stretch, the machine's other
load anywhere), and the later work's steps over 4 ms in the window (``later``:
an FTS5 index step or merge, bench/README.md "perf-burst").

    python bench/burst_tail.py --tail /tmp/burst.jsonl              # burst, then latency
    python bench/burst_tail.py --tail /tmp/fresh.jsonl --burst 0    # latency on a fresh server
    python bench/burst_tail.py --tail /tmp/burst.jsonl --text varied  # text varying per message
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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


def later_cpu(flights: list[tuple[int, int]], path: Path) -> dict[str, Any]:
    """The later work's transactions before the measured window (the burst,
    the warm-ups) and in it: how many, their CPU in all and the most one
    took (thread CPU: what the machine's other load does not change)."""
    first, last = min(s for s, _ in flights), max(r for _, r in flights)
    found: dict[str, list[float]] = {"before": [], "window": []}
    with path.open() as f:
        for line in f:
            event = json.loads(line)
            if isinstance(event, list) and event[0] == "later" and event[1] <= last:
                phases = event[3] if len(event) > 3 else {}
                found["before" if event[1] < first else "window"].append(
                    phases.get("cpu", 0) / 1e6)
    return {when: {"n": len(cpu), "cpu_ms": round(sum(cpu), 1),
                   "max_cpu_ms": round(max(cpu, default=0.0), 2),
                   "over_4ms": sum(c > 4 for c in cpu)} for when, cpu in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tail", required=True, metavar="PATH", help="the probe's file")
    parser.add_argument("--burst", type=float, default=20.0,
                        help="saturation seconds before (0: a fresh server)")
    parser.add_argument("--duration", type=float, default=20.0, help="latency: measured seconds")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--window", type=int, default=16, help="saturation: unacked per client")
    parser.add_argument("--text", choices=["same", "varied"], default="same",
                        help="the messages' text (bench/chat_load.py's --text)")
    args = parser.parse_args()
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
            found["latency"] = await chat_load.bench(target, latency)

        uvloop.run(both())
    flights = latency.tail_flights  # the probe writes when the server stops
    result = {"burst": {k: found.get("burst", {}).get(k)
                        for k in ("delivered_per_s", "server_cpu_pct", "other_cpu_pct")},
              "latency": {k: found["latency"].get(k)
                          for k in ("latency_ms", "server_cpu_pct", "other_cpu_pct", "ok")},
              "p99_by_2s": windows(flights), "later_over_4ms": slow_later(flights, tail),
              "later_cpu": later_cpu(flights, tail),
              "tail": tail_report.report(flights, tail)}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
