"""A push jobs step's reads, function by function, on the reader thread's
kind of connection (a sync SQLAlchemy connection to SQLite), for a step of
``--step`` jobs of ``push_p99.py``'s backlog whose receivers are all away
(issue 19, perf-pushreads): the due read (``due_messages``, the pointer's
messages), the receivers (``step_receivers``), and the second read's parts
(``devices_of``, ``unread_totals``, ``contexts_of``) and whole (``reach``),
and a sends step's check of 64 sends (``sends_context``).

Each part runs ``--reps`` times in turn, the CPU of the thread (``time.
thread_time``) a call; the first call of each (compiling, a cold cache) is
left out. ``PYTHONPATH=/tmp/OLD/src`` runs an extracted ``src/``; the old
and new sides alternate when run by ``--pairs`` (each side a subprocess)::

    python bench/push_p99.py --rounds 0        # makes /tmp/perf-p99-template
    python bench/push_read_parts.py --old /tmp/perf-pushreads-old/src --pairs 4

Prints a JSON line per run: each part's median and min ms a call; with
``--lag`` the due read and the second read run again on a thread beside an
event loop that sleeps 1 ms at a time (its wakes over 2 ms late, a call:
the loop's stalls while the reader thread's Python holds the GIL).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _stalls(calls: dict[str, Callable[[], Any]], reps: int, conn: Any) -> dict[str, Any]:
    """Each call run ``reps`` times on a thread (as the reader thread runs
    them, 10 ms apart) while an event loop on this thread sleeps 1 ms at a
    time: its wakes more than 2 ms late, their count and sum a call (ms),
    the GIL the call's Python held from the loop (the 5 ms switch
    interval's turns)."""
    import asyncio
    import threading

    out: dict[str, Any] = {}
    for name, call in calls.items():
        done = threading.Event()

        def run(call: Callable[[], Any] = call, done: threading.Event = done) -> None:
            for _ in range(reps):
                time.sleep(0.01)
                call()
                conn.rollback()
            done.set()

        async def watch(done: threading.Event = done, run: Callable[[], None] = run
                        ) -> list[int]:
            late: list[int] = []
            thread = threading.Thread(target=run)
            thread.start()
            while not done.is_set():
                due = time.perf_counter_ns() + 1_000_000
                await asyncio.sleep(0.001)
                late.append(time.perf_counter_ns() - due)
            thread.join()
            return late

        late = asyncio.run(watch())
        over = [v / 1e6 for v in late if v > 2_000_000]
        out[name] = {"over_2ms_a_call": round(len(over) / reps, 2),
                     "late_ms_a_call": round(sum(over) / reps, 2),
                     "max_ms": round(max(late) / 1e6, 2)}
    return out


def _parts(db: Path, step: int, reps: int, lag: bool) -> dict[str, Any]:
    from sqlalchemy import create_engine

    from tidings.store import push_reads
    from tidings.store.push_jobs import due_messages

    engine = create_engine(f"sqlite:///{db}", connect_args={"check_same_thread": False})
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        jobs, _, _ = due_messages(conn, 2**62, step)
        first = push_reads.step_receivers(conn, jobs)
        app = jobs[0].sdkappid
        users = sorted({u for found in first.receivers for u in found})
        away = {app: set(users)}
        # A sends step's 64 sends (the worker's ``SENDS_PER_STEP``), one to
        # each of the first jobs' receivers' phones.
        sends = [(n, app, found[0], f"{found[0]}-phone", job.conversation_id, job.seq, found[0])
                 for n, (job, found) in enumerate(zip(jobs, first.receivers, strict=True))
                 if found][:64]
        calls: dict[str, Callable[[], Any]] = {
            "due_messages": lambda: due_messages(conn, 2**62, step),
            "step_receivers": lambda: push_reads.step_receivers(conn, jobs),
            "devices_of": lambda: push_reads.devices_of(conn, app, users),
            "unread_totals": lambda: push_reads.unread_totals(conn, app, users),
            "contexts_of": lambda: push_reads.contexts_of(conn, jobs),
            "reach": lambda: push_reads.reach(conn, away, {}, (), jobs),
            "sends_context_64": lambda: push_reads.sends_context(conn, sends),
        }
        for name, call in calls.items():
            spans = []
            for _ in range(reps + 1):
                cpu = time.thread_time()
                call()
                spans.append((time.thread_time() - cpu) * 1e3)
                conn.rollback()
            spans = sorted(spans[1:])
            out[name] = [round(spans[len(spans) // 2], 2), round(spans[0], 2)]
        out["_jobs_users"] = [len(jobs), len(users)]
        if lag:
            out["lag"] = _stalls({k: calls[k] for k in ("due_messages", "reach")}, reps, conn)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="/tmp/perf-p99-template")
    parser.add_argument("--step", type=int, default=3200)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--old", default="", help="an old src/ to alternate with this one")
    parser.add_argument("--lag", action="store_true",
                        help="also the loop's stalls beside the due read and the second read")
    parser.add_argument("--pairs", type=int, default=0,
                        help="run old and new in subprocesses, alternated, this many pairs")
    args = parser.parse_args()
    if args.pairs:
        for n in range(args.pairs):
            sides = [("new", ""), ("old", args.old)]
            for side, src in sides if n % 2 == 0 else sides[::-1]:
                env = {**os.environ}
                env.pop("PYTHONPATH", None)
                if src:
                    env["PYTHONPATH"] = src
                done = subprocess.run(
                    [sys.executable, __file__, "--template", args.template, "--step",
                     str(args.step), "--reps", str(args.reps), *(["--lag"] if args.lag else [])],
                    env=env, capture_output=True, text=True, check=True)
                print(json.dumps({"pair": n, "side": side,
                                  **json.loads(done.stdout.strip().splitlines()[-1])}),
                      flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="perf-pushreads-") as tmp:
        shutil.copytree(args.template, Path(tmp) / "data")
        print(json.dumps(_parts(Path(tmp) / "data" / "tidings.db", args.step, args.reps,
                                 args.lag)),
              flush=True)


if __name__ == "__main__":
    main()
