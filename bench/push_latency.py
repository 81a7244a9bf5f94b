"""Push latency: from a message's ack (after its commit) to the push
channel's send, in-process (issue 19, perf-pushrows).

A started ``Runtime`` (SQLite in a temporary folder, WAL,
``synchronous=FULL``; ``push_delay`` 0) with a stand-in Web Push channel
that answers "sent" at once. Bob has a device and no connection, so each
of Alice's one-to-one messages gets a push: one message at a time, the
next once the push of the last was sent. The figures: ms from the ack to
the channel's send (the commit hook's wake, the worker's read of the due
work, the decision's reads, the transaction that writes the send and
moves the queue, the read of the due sends), and the process's CPU per
pushed message.

    python bench/push_latency.py --messages 300 --cpu 1

For old against new, run it with ``PYTHONPATH`` at an extracted ``src/``.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]
import uvloop

from tidings.adapters.push_channels import Delivery, Result
from tidings.config import Settings
from tidings.domain.ids import Identity
from tidings.domain.push import Channel, Device, PushSettings
from tidings.runtime import Runtime


class StandIn:
    """A push channel that sends nothing and says "sent"."""

    def __init__(self) -> None:
        self.sent = asyncio.Event()
        self.at = 0.0

    async def send(self, app: PushSettings, device: Device,
                   payload: dict[str, Any]) -> Delivery:
        self.at = time.perf_counter()
        self.sent.set()
        return Delivery(Result.SENT)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tidings-push-") as tmp:
        settings = Settings(data_dir=Path(tmp), rate_limit_per_second=1e9,
                            rate_limit_burst=10**9)
        rt = await Runtime.start(settings)
        try:
            app, _ = await rt.apps.create("Bench", "", "admin")
            channel = StandIn()
            rt.push._worker._channels[Channel.WEBPUSH] = channel
            await rt.push._store.register(
                app.sdkappid, "bob", "bob-phone", Channel.WEBPUSH, '{"endpoint": "x"}', False)
            alice = Identity(app.sdkappid, "alice")
            body = orjson.dumps([{"type": "text", "text": "see you at noon"}])
            ms: list[float] = []
            process = psutil.Process()
            cpu0, machine0 = process.cpu_times(), psutil.cpu_times()
            started = time.perf_counter()
            for n in range(args.warm + args.messages):
                channel.sent.clear()
                await rt.messaging.send(alice, "c2c_bob", f"m{n}", body, "")
                acked = time.perf_counter()
                await asyncio.wait_for(channel.sent.wait(), 10)
                if n == args.warm:
                    cpu0, machine0 = process.cpu_times(), psutil.cpu_times()
                    started = acked
                if n >= args.warm:
                    ms.append((channel.at - acked) * 1000)
            wall = time.perf_counter() - started
            cpu1, machine1 = process.cpu_times(), psutil.cpu_times()
            mine = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
            busy = (sum(machine1) - machine1.idle - getattr(machine1, "iowait", 0.0)) - (
                sum(machine0) - machine0.idle - getattr(machine0, "iowait", 0.0))
            ms.sort()
            return {
                "messages": len(ms),
                "push_ms_p50": round(statistics.median(ms), 2),
                "push_ms_p90": round(ms[int(len(ms) * 0.9)], 2),
                "push_ms_max": round(ms[-1], 2),
                "cpu_us_per_pushed_message": round(mine * 1e6 / len(ms)),
                # What the rest of the machine used meanwhile, of 200 (2 cores).
                "other_cpu_pct": round(100 * (busy - mine) / wall, 1),
            }
        finally:
            await rt.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to this CPU")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    print(json.dumps(uvloop.run(run(args))))


if __name__ == "__main__":
    main()
