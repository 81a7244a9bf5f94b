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

Prints a JSON line per step.
"""

from __future__ import annotations

import argparse
import json
import shutil
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
            for _ in range(args.steps):
                worker._step = args.step
                parts.clear()
                wall, cpu = time.perf_counter(), time.process_time()
                await worker._jobs_step()
                whole = [(time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3]
                # The worker decides job by job (decide_one, in pieces on
                # SQLite): the deciding is the step less its reads and writes.
                timed = [sum(v[i::2]) for v in parts.values() for i in (0, 1)]
                parts["deciding"] = [round(whole[0] - sum(timed[0::2]), 1),
                                     round(whole[1] - sum(timed[1::2]), 1)]
                print(json.dumps({"step": args.step, "ms_wall_cpu": parts,
                                  "whole": [round(whole[0], 1), round(whole[1], 1)]}),
                      flush=True)
        finally:
            await rt.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=3200)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--template", default="/tmp/perf-p99-template")
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
