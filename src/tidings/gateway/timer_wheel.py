"""Many timers that need not be exact, sharing one event-loop timer per tick.

Every WebSocket session has a deadline at any moment (its login's, then its
next heartbeat check). One ``loop.call_later`` each was about 0.5 KiB of an
idle connection (the handle, its bound method, libuv's timer) for 100,000
connections. Here a deadline is an entry in the set of its tick (``TICK``
seconds wide): one loop timer for the earliest tick that has any, and a
timer fires up to one tick late, which heartbeats measured in seconds do not
notice.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import weakref
from typing import Protocol

TICK = 0.1

log = logging.getLogger(__name__)


class Ticking(Protocol):
    def on_tick(self) -> None: ...


class TimerWheel:
    __slots__ = ("_armed", "_handle", "_keys", "_loop", "_slots")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._slots: dict[int, set[Ticking]] = {}
        self._keys: list[int] = []  # a heap of the ticks in _slots
        self._handle: asyncio.TimerHandle | None = None
        self._armed: int | None = None  # the tick the loop timer is set for

    def schedule(self, item: Ticking, delay: float) -> int:
        """Call ``item.on_tick()`` in about ``delay`` seconds; the key cancels it."""
        key = math.ceil((self._loop.time() + delay) / TICK)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = set()
            heapq.heappush(self._keys, key)
            if self._armed is None or key < self._armed:
                self._arm(key)
        slot.add(item)
        return key

    def cancel(self, item: Ticking, key: int) -> None:
        slot = self._slots.get(key)
        if slot is not None:
            slot.discard(item)  # an empty slot is dropped when its tick comes

    def _arm(self, key: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed = key
        self._handle = self._loop.call_at(key * TICK, self._fire)

    def _fire(self) -> None:
        self._handle = self._armed = None
        now = self._loop.time()
        keys = self._keys
        while keys and keys[0] * TICK <= now + 0.001:  # call_at may run a hair early
            for item in self._slots.pop(heapq.heappop(keys), ()):
                try:
                    item.on_tick()  # may schedule again: into a later tick
                except Exception:  # one session's fault; the tick's others still run
                    log.exception("a timer of the wheel failed")
        if keys:
            self._arm(keys[0])


_wheels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimerWheel] = (
    weakref.WeakKeyDictionary())


def wheel() -> TimerWheel:
    """The running loop's wheel (a process may run several loops: the tests'
    servers each have their own thread and loop)."""
    loop = asyncio.get_running_loop()
    found = _wheels.get(loop)
    if found is None:
        found = _wheels[loop] = TimerWheel(loop)
    return found
