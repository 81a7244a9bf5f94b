"""How long an idle queue worker (the push worker, the callbacks
dispatcher) sleeps when nothing wakes it.

Each polled its store every second (``push_poll_interval``,
``callback_poll_interval``): 120 wake-ups and reads a minute on an idle
server. A process alone (no cluster: nobody else's claims run out) is
woken for every new row (the writer's commit hook, the services'
``wake``), so it need only sleep until the earliest due time of what is
queued (a retry, a delayed push job), and at most ``IDLE_CAP`` (each
worker's prune, due every minute, runs when it wakes). In a cluster the
workers poll as before.

``Nudge``: a loop that need run only while something happens (the push
service's renewal of an app's "no") sleeps on it, and the thread where it
happens wakes it for the price of a flag read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# The longest sleep of an idle worker (s): its prune, every minute, runs
# when it wakes.
IDLE_CAP = 60.0


def idle_wait(next_at: int | None, now: int, poll: float) -> float:
    """Seconds to sleep unless woken, for a process alone: until ``next_at``
    (ms, the earliest due time queued; None: nothing queued), at most
    ``IDLE_CAP``. A row due already was left by the step (its work failed,
    or its app is at its limit): looked at again after ``poll``, as before."""
    if next_at is None:
        return IDLE_CAP
    if next_at <= now:
        return poll
    return min((next_at - now + 1) / 1000, IDLE_CAP)


class Nudge:
    """Sleep on the loop until another thread (or the loop) says there is
    something to do. ``poke`` is on hot paths (the writer's thread, once per
    message): unless the sleeper is asleep it only reads a flag. The sleeper
    sets the flag *before* it looks for work, the poker after it made some
    (the GIL orders them): either the sleeper sees the work or the poker
    sees the flag, so no work waits for a wake that never comes."""

    __slots__ = ("_asleep", "_event", "_loop")

    def __init__(self) -> None:
        self._asleep = False
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def sleep_until(self, ready: Callable[[], bool]) -> None:
        """Return once ``ready()`` is true, sleeping until poked meanwhile."""
        if self._event is None:
            self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
        while True:
            self._asleep = True
            if ready():
                self._asleep = False
                return
            await self._event.wait()
            self._event.clear()

    def poke(self) -> None:
        """There may be work: wake the sleeper if it sleeps (any thread)."""
        if self._asleep:
            self._asleep = False
            loop, event = self._loop, self._event
            if loop is not None and event is not None and not loop.is_closed():
                loop.call_soon_threadsafe(event.set)
