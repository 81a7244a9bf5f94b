"""A push jobs step's parts, for steps of N jobs whose receivers are away
with a device (issue 19, perf-p99): the due read (the jobs and their
receivers), the second read (contexts, devices, badges), the deciding on
the loop, the write (the sends, on SQLite the message writer's thread),
each as wall ms and the process's CPU ms.

On a copy of ``push_p99.py``'s backlog folder (made by it: ``--template``),
in-process, the worker stopped and its steps called one by one::

    python bench/push_p99.py --rounds 0            # makes /tmp/perf-p99-template
    taskset -c 1 python bench/push_step_parts.py --step 3200 --steps 3
    taskset -c 1 python bench/push_step_parts.py --step 200 --steps 3

Prints a JSON line per step (``loop_cpu_ms``: the event loop's thread's
CPU over the step, its deciding and the reads' and writes' parts on the
loop, not the threads'). ``--lag``: a task sleeps 1 ms at a time
beside the steps (as the messages' coroutines wait for their turns) and
each step's line has its wakes' lateness (count, p50, p99, max ms, and
how many over 2 ms): how long the step held the loop from the messages,
its deciding and the GIL its reader and writer threads hold included.
``--profile N``: cProfile the loop's thread over the steps (their
deciding; the threads' reads and writes are not in it), the top N
functions by own time to stderr. ``PYTHONPATH=/tmp/OLD/src`` runs an
extracted ``src/``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

from tidings.config import Settings
from tidings.runtime import Runtime


def _timed(obj: Any, name: str, parts: dict[str, list[float]]) -> None:
    """Add each call of ``obj.name``'s wall and process CPU ms to ``parts``."""
    method: Callable[..., Awaitable[Any]] = getattr(obj, name)

    async def timed(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return await method(*args, **kwargs)
        finally:
            parts.setdefault(name, []).extend(
                [round((time.perf_counter() - wall) * 1e3, 1),
                 round((time.process_time() - cpu) * 1e3, 1)])

    setattr(obj, name, timed)


class Lag:
    """A task waking every 1 ms; ``late`` its wakes' lateness, ns."""

    def __init__(self) -> None:
        self.late: list[int] = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            due = time.perf_counter_ns() + 1_000_000
            await asyncio.sleep(0.001)
            self.late.append(time.perf_counter_ns() - due)

    def figures(self) -> dict[str, float]:
        late = sorted(self.late) or [0]
        self.late.clear()
        return {"n": len(late), "p50_ms": round(late[len(late) // 2] / 1e6, 2),
                "p99_ms": round(late[int(len(late) * 0.99)] / 1e6, 2),
                "max_ms": round(late[-1] / 1e6, 2),
                "over_2ms": sum(v > 2_000_000 for v in late)}

    def stop(self) -> None:
        self._task.cancel()


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="perf-p99-parts-") as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(args.template, data)
        rt = await Runtime.start(Settings(data_dir=data, push_max_attempts=1))
        try:
            worker: Any = rt.push._worker
            await worker.stop()  # its steps are called here, one at a time
            parts: dict[str, list[float]] = {}
            for name in ("due_jobs", "reach", "finish_jobs"):
                _timed(worker._store, name, parts)
            lag = Lag() if args.lag else None
            # The loop's thread only: the reads' and writes' threads are not in it.
            profile = cProfile.Profile() if args.profile else None
            for _ in range(args.steps):
                worker._step = args.step
                parts.clear()
                if lag is not None:
                    await asyncio.sleep(0.01)
                    lag.figures()  # from the step's start
                wall, cpu = time.perf_counter(), time.process_time()
                loop_cpu = time.thread_time()
                if profile is not None:
                    profile.enable()
                await worker._jobs_step()
                if profile is not None:
                    profile.disable()
                whole = [(time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3]
                loop_cpu = (time.thread_time() - loop_cpu) * 1e3
                # The worker decides job by job (decide_one, in pieces on
                # SQLite): the deciding is the step less its reads and writes.
                timed = [sum(v[i::2]) for v in parts.values() for i in (0, 1)]
                parts["deciding"] = [round(whole[0] - sum(timed[0::2]), 1),
                                     round(whole[1] - sum(timed[1::2]), 1)]
                print(json.dumps({"step": args.step, "ms_wall_cpu": parts,
                                  "whole": [round(whole[0], 1), round(whole[1], 1)],
                                  "loop_cpu_ms": round(loop_cpu, 1)}
                                 | ({"lag": lag.figures()} if lag is not None else {})),
                      flush=True)
            if lag is not None:
                lag.stop()
            if profile is not None:
                stats = pstats.Stats(profile, stream=sys.stderr)
                stats.sort_stats("tottime").print_stats(args.profile)
        finally:
            await rt.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=3200)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--template", default="/tmp/perf-p99-template")
    parser.add_argument("--lag", action="store_true", help="the loop's lateness beside each step")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="cProfile the loop's thread over the steps; print the top N to stderr")
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
