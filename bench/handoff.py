"""What the writer's hand-off to its batch thread costs the event loop, and
what a callback-driven writer would save (issue 19: "two fewer task wakes
per batch").

Both sides send one request at a time and await its answer, as a message
that commits alone does; the thread's work is nothing, so the figure is
the hand-off alone, in microseconds of the loop thread's CPU per batch:

- ``task``: as ``store/writer/core.py`` and ``store/batch_thread.py`` do
  it: the submit resolves the idle writer task's future, the task puts
  the job on a ``SimpleQueue`` and awaits a future that the thread settles
  with ``call_soon_threadsafe``, then resolves the request's future;
- ``callback``: the submit schedules a start with ``call_soon``; the
  thread's ``call_soon_threadsafe`` runs the completion directly (no
  writer task, no future per batch).

    python bench/handoff.py --rounds 20000 --repeat 3

Prints one JSON line: the medians of ``--repeat`` runs, alternated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

import uvloop

Job = tuple[Callable[[Any], None], Any] | None


class Thread:
    """A thread that answers each job through the loop at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.jobs: SimpleQueue[Job] = SimpleQueue()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while (job := self.jobs.get()) is not None:
            answer, arg = job
            self.loop.call_soon_threadsafe(answer, arg)

    def stop(self) -> None:
        self.jobs.put(None)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def task_side(rounds: int) -> float:
    loop = asyncio.get_running_loop()
    thread = Thread(loop)
    queue: list[asyncio.Future[None]] = []
    idle: asyncio.Future[None] | None = None

    async def run_write() -> None:
        done = loop.create_future()
        thread.jobs.put((_settle, done))
        await done

    async def writer() -> None:
        nonlocal idle
        while True:
            if not queue:
                idle = loop.create_future()
                await idle
                continue
            batch = queue[:]
            del queue[:]
            await run_write()
            for future in batch:
                future.set_result(None)

    task = asyncio.create_task(writer())
    await asyncio.sleep(0)
    started = time.thread_time()
    for _ in range(rounds):
        future = loop.create_future()
        queue.append(future)
        waiting, idle = idle, None
        if waiting is not None and not waiting.done():
            waiting.set_result(None)
        await future
    spent = time.thread_time() - started
    task.cancel()
    thread.stop()
    return spent / rounds * 1e6


async def callback_side(rounds: int) -> float:
    loop = asyncio.get_running_loop()
    thread = Thread(loop)
    queue: list[asyncio.Future[None]] = []
    busy = scheduled = False

    def done(batch: list[asyncio.Future[None]]) -> None:
        nonlocal busy
        busy = False
        for future in batch:
            future.set_result(None)
        if queue:
            start()

    def start() -> None:
        nonlocal busy, scheduled
        scheduled = False
        if busy or not queue:
            return
        batch = queue[:]
        del queue[:]
        busy = True
        thread.jobs.put((done, batch))

    started = time.thread_time()
    for _ in range(rounds):
        future = loop.create_future()
        queue.append(future)
        if not busy and not scheduled:
            scheduled = True
            loop.call_soon(start)
        await future
    spent = time.thread_time() - started
    thread.stop()
    return spent / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    task: list[float] = []
    callback: list[float] = []
    for _ in range(args.repeat):
        task.append(uvloop.run(task_side(args.rounds)))
        callback.append(uvloop.run(callback_side(args.rounds)))
    print(json.dumps({
        "rounds": args.rounds,
        "task_us_per_batch": round(statistics.median(task), 2),
        "callback_us_per_batch": round(statistics.median(callback), 2),
        "runs": {"task": [round(t, 2) for t in task],
                 "callback": [round(c, 2) for c in callback]},
    }))


if __name__ == "__main__":
    main()
