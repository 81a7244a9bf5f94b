"""What the server was doing when a message was slow (``chat_load.py --tail``).

Python imports ``sitecustomize`` at start-up from the path; the bench puts
this folder on the server's ``PYTHONPATH`` (old and new code alike, so the
probe is the same on both sides) and names a file in
``BENCH_TAIL_PROBE``. Without that variable it does nothing.

It records, on ``time.perf_counter_ns`` (CLOCK_MONOTONIC: the same clock as
the bench's clients on Linux), every interval that can hold a message up:

- ``gc0``/``gc1``/``gc2``: a cyclic garbage collection of that generation
  (``gc.callbacks``), on whichever thread ran it (it holds the GIL);
- ``commit``: a synced transaction on the SQLite writer's thread (a batch of
  messages: its statements and the commit's fsync);
- ``checkpoint``: a transaction that also checkpointed (SQLite copies the
  log into the database file inside the commit that passed 1,000 pages);
  (old code, or ``sqlite_checkpoint_pages`` 0); with the checkpointer
  (store/checkpointer.py), ``ckpt_thread``: a checkpoint on its thread,
  and ``ckpt_writer``: one the writer ran after its commit (its fallback);
- ``later``: an unsynced one there (the work after the commits: the FTS5
  index step), which a message arriving meanwhile waits for; the push
  worker's are ``push_finish`` (a step's jobs replaced by their sends) and
  ``push_record`` (the sends' outcomes), and each ``finish_jobs`` call is a
  ``push_finish_call`` with its ``jobs`` and ``sends``;
- ``tick``: the timer wheel's tick (gateway/timer_wheel.py), on the loop;
- ``loop_lag``: the loop's own stalls, which no interval above shows (a
  callback holding it, or a thread holding the GIL): a task started with
  the push worker sleeps 1 ms at a time, and a wake more than
  ``LAG_NS`` late is recorded from when it was due to when it ran;
- ``push_read_due`` / ``push_read_reach``: the push worker's two reads of
  a jobs step (``PushStore.due_jobs``, ``PushStore.reach``: a reader
  thread's, sharing the GIL with the loop), their whole awaits.

A transaction also has ``grew``: the bytes by which it made the log
(``-wal``) longer, and its phases, in ns: ``hop_in`` (the loop's hand-off
until the thread runs it: a wake-up and the GIL), ``cpu`` (the thread's own
CPU in it), ``runq`` (runnable but waiting for the core: schedstat),
``blocked`` (the rest of it: the fsync, or waiting for the GIL), ``hop_out``
(its end until the awaiting coroutine resumes on the loop).

``BENCH_GC_THRESHOLD`` (``"10000,20,50"``) replaces the thresholds the
server sets after its start, to compare them in one run.

At exit (SIGTERM) it writes them as JSON lines ``[kind, start_ns, end_ns,
phases]`` and one ``{"gc_threshold": ..., "frozen": ..., "tracked": ...,
"tracked_by_type": ...}`` line first (the objects the collector tracks at exit).
"""

from __future__ import annotations

import atexit
import gc
import os
import time
from typing import Any

_PATH = os.environ.get("BENCH_TAIL_PROBE", "")
LAG_NS = 2_000_000  # a 1 ms sleep woken later than this past its time is a stall
_events: list[Any] = []


def _run_delay() -> int:
    with open("/proc/thread-self/schedstat") as f:
        return int(f.read().split()[1])


def _install() -> None:
    clock = time.perf_counter_ns
    gc_started = [0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = clock()
        else:
            _events.append((f"gc{info['generation']}", gc_started[0], clock()))

    gc.callbacks.append(on_gc)
    # BENCH_GC_THRESHOLD="10000,20,50": what the server's own set_threshold
    # (api/app.py, after start-up) sets instead, to compare thresholds.
    override = os.environ.get("BENCH_GC_THRESHOLD", "")
    if override:
        set_threshold = gc.set_threshold
        wanted = [int(n) for n in override.split(",")]
        gc.set_threshold = lambda *_: set_threshold(*wanted)

    from tidings.store import batch_thread

    transaction = batch_thread.BatchThread._in_transaction
    run = batch_thread.BatchThread.run
    submitted: list[int] = []  # the writer hands over one job at a time
    last: list[list[Any]] = []  # the transaction that ended last
    mtime = [0]  # the database file's, after the last transaction
    wal_size = [0]  # the log's size after the last transaction

    def timed(self: Any, work: Any, args: Any, synced: bool) -> Any:
        start, cpu, waited = clock(), time.thread_time_ns(), _run_delay()
        try:
            return transaction(self, work, args, synced)
        finally:
            end = clock()
            cpu, waited = time.thread_time_ns() - cpu, _run_delay() - waited
            # A checkpoint (the log copied into the database file) changes
            # the file's mtime; a commit alone writes only the log.
            # With a checkpointer of its own, the file's mtime moves with the
            # thread's checkpoints: its own events say when.
            kind = "commit" if synced else "later"
            # The push worker's writes (unsynced too): a step's jobs replaced
            # by their sends, the sends' outcomes.
            name = getattr(work, "__qualname__", "")
            if not synced and name.startswith("PushStore."):
                kind = "push_record" if name.startswith("PushStore.record") else "push_finish"
            if getattr(self, "_after_commit", None) is None:
                changed = os.stat(self._engine.url.database).st_mtime_ns
                if changed != mtime[0] and mtime[0]:
                    kind = "checkpoint"
                mtime[0] = changed
            # A commit that made the log longer: ext4 commits the new size
            # in its journal within that fdatasync (bench/disk_sync.py).
            try:
                size = os.stat(self._engine.url.database + "-wal").st_size
            except OSError:
                size = 0
            grew, wal_size[0] = max(0, size - wal_size[0]), size
            last[:] = [[kind, start, end, {
                "hop_in": start - submitted.pop() if submitted else 0, "cpu": cpu,
                "runq": waited, "blocked": end - start - cpu - waited, "grew": grew}]]
            _events.append(last[0])

    async def handed(self: Any, work: Any, *args: Any, synced: bool = True) -> Any:
        submitted.append(clock())
        try:
            return await run(self, work, *args, synced=synced)
        finally:
            if last:
                last[0][3]["hop_out"] = clock() - last[0][2]

    batch_thread.BatchThread._in_transaction = timed  # type: ignore[method-assign]
    batch_thread.BatchThread.run = handed  # type: ignore[method-assign]

    try:
        from tidings.store import checkpointer
    except ImportError:
        pass
    else:
        _time(checkpointer.Checkpointer, "_checkpoint", "ckpt_thread")
        _time(checkpointer.Checkpointer, "_in_writer", "ckpt_writer")
        if hasattr(checkpointer.Checkpointer, "_chase"):
            _time(checkpointer.Checkpointer, "_chase", "ckpt_chase")

    try:
        from tidings.store import push
    except ImportError:
        pass
    else:
        _sizes(push.PushStore)
        _awaited(push.PushStore, "due_jobs", "push_read_due")
        _awaited(push.PushStore, "reach", "push_read_reach")
        _lag_probe()

    try:
        from tidings.gateway import timer_wheel
    except ImportError:
        return
    fire = timer_wheel.TimerWheel._fire

    def tick(self: Any) -> None:
        start = clock()
        fire(self)
        _events.append(("tick", start, clock()))

    timer_wheel.TimerWheel._fire = tick  # type: ignore[method-assign]


def _time(cls: Any, name: str, kind: str) -> None:
    """Record each call of ``cls.name`` as an interval of ``kind``."""
    clock = time.perf_counter_ns
    method = getattr(cls, name)

    def timed(self: Any, *args: Any) -> Any:
        start = clock()
        try:
            return method(self, *args)
        finally:
            _events.append((kind, start, clock()))

    setattr(cls, name, timed)


def _awaited(cls: Any, name: str, kind: str) -> None:
    """Record each await of ``cls.name`` (a coroutine) as an interval of ``kind``."""
    clock = time.perf_counter_ns
    method = getattr(cls, name)

    async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return await method(self, *args, **kwargs)
        finally:
            _events.append((kind, start, clock()))

    setattr(cls, name, timed)


def _lag_probe() -> None:
    """Start the loop's lag task with the push worker (on the server's loop)."""
    import asyncio

    from tidings.services import push_worker

    clock = time.perf_counter_ns
    start = push_worker.PushWorker.start

    async def lag() -> None:
        while True:
            due = clock() + 1_000_000
            await asyncio.sleep(0.001)
            woke = clock()
            if woke - due > LAG_NS:
                _events.append(("loop_lag", due, woke))

    def started(self: Any) -> None:
        start(self)
        self._bench_lag = asyncio.get_running_loop().create_task(lag())

    push_worker.PushWorker.start = started  # type: ignore[method-assign]


def _sizes(cls: Any) -> None:
    """Record each ``finish_jobs`` call (its whole await) with its jobs and
    sends: how large the push worker's writes were."""
    clock = time.perf_counter_ns
    finish = cls.finish_jobs

    async def sized(self: Any, jobs: Any, sends: Any, *args: Any, **kwargs: Any) -> Any:
        sends = list(sends)
        start = clock()
        try:
            return await finish(self, jobs, sends, *args, **kwargs)
        finally:
            _events.append(("push_finish_call", start, clock(),
                            {"jobs": len(jobs), "sends": len(sends)}))

    cls.finish_jobs = sized


def _dump() -> None:
    import json
    from collections import Counter

    # What the collector tracks at the end, by type: what a longer run keeps
    # more of is what each young collection leaves for the older ones.
    kept = Counter(type(o).__qualname__ for o in gc.get_objects())
    with open(_PATH, "w") as out:
        out.write(json.dumps({"gc_threshold": gc.get_threshold(),
                              "frozen": gc.get_freeze_count(),
                              "tracked": len(gc.get_objects()),
                              "tracked_by_type": kept.most_common(25)}) + "\n")
        for event in _events:
            out.write(json.dumps(event) + "\n")


if _PATH:
    _install()
    atexit.register(_dump)
