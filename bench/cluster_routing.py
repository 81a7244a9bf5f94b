"""What routing a frame through Redis costs, against handing it to a device
in the same process (docs/cluster.md).

Starts a throwaway ``redis-server`` (or uses ``--redis-url``), two
``RedisBus`` nodes in this process, a device on the second, and delivers
``--frames`` frames of ``--size`` bytes from the first: the CPU of this
process (both nodes: publishing and receiving) and of redis-server per
frame, and the frames per second, against ``LocalBus.deliver`` to a local
device. Also a group entry for ``--members`` members spread over two other
nodes: one Redis message per node. Prints one JSON line.

    python bench/cluster_routing.py --frames 50000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.redis_server import RedisServer, find_redis
from tidings.bus.local import LocalBus
from tidings.bus.redis import RedisBus
from tidings.domain.ids import Identity

APP = 1400000009


class Device:
    def __init__(self) -> None:
        self.got = 0
        self.done = asyncio.Event()
        self.want = 0

    def push(self, frame: bytes, conversation_id: int | None = None, seq: int = 0) -> None:
        self.got += 1
        if self.got >= self.want:
            self.done.set()

    def describe(self) -> dict[str, object]:
        return {"session_id": "bench", "platform": "", "device_id": "", "since": 0}

    def disconnect(self, code: int, reason: str) -> None:
        pass


async def seen(check: Callable[[], bool]) -> None:
    """Presence reaches the other node a moment later."""
    for _ in range(3000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise SystemExit("presence never arrived")


def cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


async def run(url: str, redis_pid: int | None, frames: int, size: int,
              members: int) -> dict[str, Any]:
    me = psutil.Process()
    rs = psutil.Process(redis_pid) if redis_pid else None
    frame = b'{"event":"message","data":{"text":"' + b"x" * max(size - 40, 0) + b'"}}'
    # One process: LocalBus to a local device.
    local = LocalBus()
    device = Device()
    device.want = frames
    alice = Identity(APP, "alice")
    local.attach(alice, device)
    c0, w0 = cpu(me), time.perf_counter()
    for i in range(frames):
        local.deliver(alice, frame, conversation_id=1, seq=i)
    local_us = 1e6 * (cpu(me) - c0) / frames
    local_wall = time.perf_counter() - w0
    # Two nodes: a frame to a device on the other.
    a, b, c = (RedisBus(url) for _ in range(3))
    for bus in (a, b, c):
        await bus.start()
    device = Device()
    device.want = frames
    b.attach(alice, device)
    await seen(lambda: a.online(alice))
    c0, r0, w0 = cpu(me), cpu(rs) if rs else 0.0, time.perf_counter()
    for i in range(frames):
        a.deliver(alice, frame, conversation_id=1, seq=i)
        if i % 500 == 499:
            await asyncio.sleep(0)  # let the sender flush as a server's loop would
    await asyncio.wait_for(device.done.wait(), 120)
    wall = time.perf_counter() - w0
    remote_us = 1e6 * (cpu(me) - c0) / frames
    redis_us = 1e6 * ((cpu(rs) if rs else 0.0) - r0) / frames
    # A group entry: members spread over b and c, one Redis message per node.
    devices = []
    for i in range(members):
        d = Device()
        d.want = 1
        (b if i % 2 else c).attach(Identity(APP, f"m{i}"), d)
        devices.append(d)
    await seen(lambda: all(a.online(Identity(APP, f"m{i}")) for i in range(members)))
    sent: list[tuple[Any, ...]] = []
    send = a._send
    a._send = lambda cmd: (sent.append(cmd), send(cmd))[1]  # type: ignore[method-assign]
    a.deliver_many(APP, [f"m{i}" for i in range(members)], frame, conversation_id=2, seq=1)
    await asyncio.wait_for(asyncio.gather(*(d.done.wait() for d in devices)), 60)
    for bus in (a, b, c):
        await bus.stop()
    return {"frames": frames, "frame_bytes": len(frame),
            "local_us_per_frame": round(local_us, 2),
            "local_frames_per_s": round(frames / local_wall),
            "redis_us_per_frame_both_nodes": round(remote_us, 2),
            "redis_server_us_per_frame": round(redis_us, 2) if rs else None,
            "redis_frames_per_s": round(frames / wall),
            "group_members": members,
            "group_redis_messages": sum(1 for cmd in sent if cmd[0] == "publish")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=300, help="bytes per frame")
    parser.add_argument("--members", type=int, default=500, help="of the group entry")
    parser.add_argument("--redis-url", help="an already-running Redis instead of ours")
    args = parser.parse_args()
    server = None
    url, pid = args.redis_url, None
    if url is None:
        binary = find_redis()
        if binary is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server)")
        server = RedisServer(binary)
        server.start()
        url = server.url
        pid = server.process.pid if server.process else None
    try:
        result = asyncio.run(run(url, pid, args.frames, args.size, args.members))
    finally:
        if server is not None:
            server.stop()
    busy = psutil.cpu_percent(interval=0.5) * psutil.cpu_count()
    print(json.dumps({**result, "machine_busy_pct_after": round(busy)}))


if __name__ == "__main__":
    main()
