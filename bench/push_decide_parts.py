"""A push jobs step's work on the event loop, for a step of ``--step``
jobs of ``push_p99.py``'s backlog whose receivers are away (issue 19,
perf-pushdecide): the step's reads' part on the loop (``Decisions.read``:
who is away, by the bus and the links, and the reads' awaits; the reads
themselves run on the reader thread, not counted) and the deciding of
its jobs one by one (``Decisions.decide_one``, as the worker calls it),
each as the loop thread's CPU ms (``time.thread_time``) a step; then a
sends step's outcomes written (``PushStore.record``, 64 retries of the
step's first sends: the process's CPU ms a call, the writer's thread's
included).

In-process, on a copy of the backlog's folder, the worker stopped; the
step's jobs are read once and decided ``--reps`` times (the first left
out), nothing written. ``PYTHONPATH=/tmp/OLD/src`` runs an extracted
``src/``; ``--pairs N`` runs old and new in subprocesses, alternated::

    python bench/push_p99.py --rounds 0        # makes /tmp/perf-p99-template
    python bench/push_decide_parts.py --old /tmp/perf-pushdecide-old/src --pairs 4

Prints a JSON line per run: each part's median and min ms a step, the
sends and events made (the same on both sides), which ``tidings`` ran,
and with ``--pairs`` the machine's other CPU over the run
(``other_cpu_pct``, % of one core: /proc/stat's less the run's own).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


async def _parts(data: Path, step: int, reps: int) -> dict[str, Any]:
    import tidings
    from tidings.config import Settings
    from tidings.domain.clock import now_ms
    from tidings.runtime import Runtime

    rt = await Runtime.start(Settings(data_dir=data, push_max_attempts=1))
    out: dict[str, Any] = {"tidings": str(Path(tidings.__file__).parent)}
    try:
        worker: Any = rt.push._worker
        await worker.stop()
        decisions = worker._decisions
        due = await worker._store.due_jobs(now_ms() + 10**9, step)
        jobs = due.jobs
        reads: list[float] = []
        deciding: list[float] = []
        made = (0, 0)
        for _ in range(reps + 1):
            cpu = time.thread_time()
            found = await decisions.read(jobs, due.first)
            reads.append((time.thread_time() - cpu) * 1e3)
            sends: list[Any] = []
            events: list[Any] = []
            cpu = time.thread_time()
            for job in jobs:
                await decisions.decide_one(job, found, sends, events)
            deciding.append((time.thread_time() - cpu) * 1e3)
            made = (len(sends), len(events))
        for name, spans in (("read_on_loop", reads), ("deciding", deciding)):
            spans = sorted(spans[1:])
            out[name] = [round(spans[len(spans) // 2], 2), round(spans[0], 2)]
        out["jobs_sends_events"] = [len(jobs), *made]
        # A sends step's outcomes: 64 retries recorded (``PushStore.record``,
        # a write on the writer's thread), the process's CPU a call.
        from tidings.store.push import SendOutcome

        store = worker._store
        await store.finish_jobs(jobs[:64], [(s.job, s.sdkappid, s.user_id, s.device_id,
                                             s.payload) for s in sends[:64]], [], None, [])
        ids = [send.id for send in await store.due_sends(now_ms() + 10**9, 64)]
        spans = []
        for n in range(reps + 1):
            outcomes = [SendOutcome(i, "retry", f"HTTP 503 {n}", now_ms() + 10**6) for i in ids]
            cpu = time.process_time()
            await store.record(outcomes)
            spans.append((time.process_time() - cpu) * 1e3)
        spans = sorted(spans[1:])
        out["record_64_retries"] = [round(spans[len(spans) // 2], 2), round(spans[0], 2)]
        out["sends_recorded"] = len(ids)
    finally:
        await rt.stop()
    return out


def _busy() -> float:
    """The machine's CPU seconds (user, nice, system) so far, /proc/stat."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:4]
    return sum(int(f) for f in fields) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="/tmp/perf-p99-template")
    parser.add_argument("--step", type=int, default=3200)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--old", default="", help="an old src/ to alternate with this one")
    parser.add_argument("--pairs", type=int, default=0,
                        help="run old and new in subprocesses, alternated, this many pairs")
    args = parser.parse_args()
    if args.pairs:
        for n in range(args.pairs):
            sides = [("new", str(Path(__file__).resolve().parents[1] / "src")),
                     ("old", args.old)]
            for side, src in sides if n % 2 == 0 else sides[::-1]:
                env = {**os.environ, "PYTHONPATH": src}
                machine0, child0 = _busy(), _children_cpu()
                wall = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, __file__, "--template", args.template, "--step",
                     str(args.step), "--reps", str(args.reps)],
                    env=env, capture_output=True, text=True, check=True)
                wall = time.perf_counter() - wall
                other = (_busy() - machine0) - (_children_cpu() - child0)
                print(json.dumps({"pair": n, "side": side,
                                  **json.loads(done.stdout.strip().splitlines()[-1]),
                                  "other_cpu_pct": round(100 * other / wall)}),
                      flush=True)
        return
    import uvloop

    with tempfile.TemporaryDirectory(prefix="perf-pushdecide-") as tmp:
        shutil.copytree(args.template, Path(tmp) / "data")
        print(json.dumps(uvloop.run(_parts(Path(tmp) / "data", args.step, args.reps))),
              flush=True)


if __name__ == "__main__":
    main()
