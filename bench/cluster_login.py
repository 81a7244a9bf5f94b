"""What the login window's guarantee costs a login (docs/cluster.md, "The
login window"): three ``RedisBus`` nodes in this process on a throwaway
``redis-server``; ``--logins`` identities attach to the first node, at
``--rate`` a second in bursts of ``--burst`` at once, each then waiting (as a session's first sync
does) until the other two nodes have applied its presence news. Prints
one JSON line: the CPU of this process (all three nodes: announcing,
applying, acknowledging) and of redis-server per login, and the wait's
median and 99th percentile.

Run it on the code to compare with PYTHONPATH pointing at an older copy of
src/: a bus without ``mark`` (before the guarantee) is measured without
the wait. Interleave old and new runs on a loaded machine: ratios only.

    python bench/cluster_login.py --logins 20000 --rate 1000 --burst 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.redis_server import RedisServer, find_redis
from tidings.bus.redis import RedisBus
from tidings.domain.ids import Identity

APP = 1400000010


class Device:
    def __init__(self, name: str) -> None:
        self.name = name

    def push(self, frame: bytes, conversation_id: int | None = None, seq: int = 0) -> None:
        pass

    def describe(self) -> dict[str, object]:
        return {"session_id": self.name, "platform": "", "device_id": "", "since": 0}

    def disconnect(self, code: int, reason: str) -> None:
        pass


def cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


async def login(bus: RedisBus, i: int, waits: list[float]) -> None:
    bus.attach(Identity(APP, f"u{i}"), Device(f"d{i}"))
    mark = getattr(bus, "mark", None)
    if mark is not None:
        started = time.perf_counter()
        await bus.settled(mark())
        waits.append(time.perf_counter() - started)


async def run(url: str, redis_pid: int, logins: int, rate: float, burst: int
              ) -> dict[str, Any]:
    nodes = [RedisBus(url, heartbeat=1.0, node_timeout=30.0) for _ in range(3)]
    for node in nodes:
        await node.start()
    await asyncio.sleep(1.5)  # a heartbeat each: the nodes know each other
    me, rs = psutil.Process(), psutil.Process(redis_pid)
    waits: list[float] = []
    sys0, me0, rs0 = sum(psutil.cpu_times()[:3]), cpu(me), cpu(rs)
    wall0 = time.perf_counter()
    running: set[asyncio.Task[Any]] = set()
    for n, start in enumerate(range(0, logins, burst)):
        # Open loop: the same pace whether logins wait or not.
        await asyncio.sleep(max(0.0, wall0 + n * burst / rate - time.perf_counter()))
        task = asyncio.ensure_future(asyncio.gather(
            *(login(nodes[0], i, waits) for i in range(start, min(start + burst, logins)))))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    last = Identity(APP, f"u{logins - 1}")
    for _ in range(30000):  # the others have heard of every login
        if nodes[1].online(last) and nodes[2].online(last):
            break
        await asyncio.sleep(0.001)
    wall = time.perf_counter() - wall0
    me_cpu, rs_cpu = cpu(me) - me0, cpu(rs) - rs0
    other = sum(psutil.cpu_times()[:3]) - sys0 - me_cpu - rs_cpu
    for node in nodes:
        await node.stop()
    waits.sort()
    return {
        "guarantee": bool(waits), "logins": logins, "rate": rate, "burst": burst,
        "process_us_per_login": round(me_cpu / logins * 1e6, 1),
        "redis_us_per_login": round(rs_cpu / logins * 1e6, 1),
        "logins_per_s": round(logins / wall),
        "wait_ms_p50": round(statistics.median(waits) * 1e3, 2) if waits else None,
        "wait_ms_p99": round(waits[int(len(waits) * 0.99)] * 1e3, 2) if waits else None,
        "other_cpu_pct": round(100 * other / wall),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--burst", type=int, default=10)
    args = parser.parse_args()
    binary = find_redis()
    if binary is None:
        raise SystemExit("redis-server is not installed")
    server = RedisServer(binary)
    server.start()
    try:
        assert server.process is not None
        result = asyncio.run(run(server.url, server.process.pid, args.logins, args.rate,
                                     args.burst))
    finally:
        server.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
