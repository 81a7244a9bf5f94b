"""PostgreSQL: the next batch's statement goes out before the last batch's
commit hook runs.

After a batch commits, the writer runs its commit hook (the acks and the
live frames: about a fifth of a batch's turn at saturation), then builds
and sends the next batch; the database waited for both. On PostgreSQL the
next batch of sends is built and sent first, and the hook runs while the
database writes it (bench/README.md, perf-pgsat4). Nothing is sent before
the batch before it committed, so the database sees the same statements in
the same order, and each batch is still acked after its own commit, in
order (the writer awaits the next batch only after the last one's hook).

Only a batch of sends goes ahead: a group's operation would change, in the
writer's memory, the members the last batch's frames go to before its
hook read them; a recall or an edit waits its turn likewise. SQLite's
batch thread keeps its turn (its later work runs between batches).

And only a batch of at least half the last one's size: what waits when a
batch commits is what arrived during its statement, while the clients of
the batch just committed still wait for their acks. Sent at once, a few
such messages made a batch of their own and the next one formed sooner:
with the database on the server's core (the bench's), batches of ~100-200
among ones of ~700, and more CPU a message on both sides for no gain; with
the database on a core of its own, the hook's share of the writer's turn
is the database's wait that going ahead saves (bench/README.md,
perf-pgsat4).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from tidings.domain.errors import TidingsError
from tidings.domain.records import Committed, NewMessage, Request

Queued = list[tuple[Request, "asyncio.Future[Committed]"]]
# A batch sent ahead: its requests, its commit (a task) and when it started.
Ahead = tuple[Queued, Awaitable[list[Committed | TidingsError]], float]


def take(queue: Queued, max_batch: int, last: int) -> Queued | None:
    """The next batch off ``queue`` if it may go ahead (sends only, at
    least half of ``last``, the size of the batch just committed)."""
    if not queue or 2 * len(queue) < min(last, max_batch):
        return None
    batch = queue[:max_batch]
    for r, _ in batch:
        if type(r) is not NewMessage:
            return None
    del queue[:max_batch]
    return batch


async def send_next(queue: Queued, max_batch: int, last: int, commit: Callable[
        [Queued], Coroutine[Any, Any, list[Committed | TidingsError]]]) -> Ahead | None:
    """Start ``commit`` of the next batch, if it may go ahead, and return
    once its statement is sent (its task's first step: the rows built, the
    statement handed to the driver, its answer awaited)."""
    batch = take(queue, max_batch, last)
    if batch is None:
        return None
    task = asyncio.get_running_loop().create_task(commit(batch))
    await asyncio.sleep(0)
    return batch, task, time.perf_counter()
