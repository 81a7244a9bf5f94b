"""A per-key cache whose entries live ``ttl`` seconds, for what an app's
admin changes rarely and every request reads (its keys, its callback
settings, its one-to-one rules, its group settings ...).

An entry older than ``ttl`` is read again *before* it is answered, never
after: a change made elsewhere (the CLI, another process) is in effect for
every request that starts more than ``ttl`` after it. One read per key runs
at a time; callers that come while it runs wait for that same read, so a
burst after an entry expires costs the database one query.

Synchronous fast paths that cannot wait use :meth:`TtlCache.peek` or
:meth:`TtlCache.quick` (None for an expired entry, so the caller takes its
awaited path; ``quick`` also reads a busy entry again in the background
before it expires).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, NamedTuple, TypeVar

from tidings.bus.local import LocalBus

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Hit(NamedTuple, Generic[V]):
    at: float  # when the read that found it began (time.monotonic())
    value: V


class _Load(NamedTuple, Generic[V]):
    started: float
    task: asyncio.Task[V]


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, load: Callable[[K], Awaitable[V]], *,
                 limit: int = 10_000, what: str = "entry") -> None:
        self.ttl = ttl
        self._load_one = load
        self._limit = limit
        self._what = what
        self._hits: dict[K, Hit[V]] = {}
        self._loading: dict[K, _Load[V]] = {}
        self._tell: Callable[[K], None] | None = None

    def share(self, bus: LocalBus, topic: str) -> None:
        """In a cluster (docs/cluster.md): what this process writes or
        forgets, the other processes forget at once rather than after
        ``ttl``. Keys must be JSON values (an app's sdkappid)."""
        self._tell = lambda key: bus.changed(topic, {"key": key})
        bus.on_change(topic, self._forgotten_elsewhere)

    def _forgotten_elsewhere(self, data: dict[str, Any]) -> None:
        self._hits.pop(data["key"], None)

    def peek(self, key: K) -> Hit[V] | None:
        """The entry if it is younger than ``ttl``, without waiting."""
        hit = self._hits.get(key)
        if hit is None or time.monotonic() - hit.at > self.ttl:
            return None
        return hit

    def quick(self, key: K) -> Hit[V] | None:
        """:meth:`peek` for a fast path under steady use: it also starts a
        background read when the entry is missing, expired, or in the second
        half of its life, so that busy keys are read again before they expire
        and their fast path rarely has to wait."""
        hit = self._hits.get(key)
        age = None if hit is None else time.monotonic() - hit.at
        if age is None or age > self.ttl / 2:
            self.refresh_soon(key)
        return hit if age is not None and age <= self.ttl else None

    async def get(self, key: K) -> V:
        """The value, read again first when the entry is missing or expired."""
        hit = self.peek(key)
        if hit is not None:
            return hit.value
        return await self._join(key, None)

    async def reload(self, key: K) -> V:
        """Read afresh: a read that began before this call is not enough."""
        return await self._join(key, time.monotonic())

    def refresh_soon(self, key: K) -> None:
        """Start reading an expired or missing entry in the background (the
        read that runs already, if any); failures are logged."""
        if key in self._loading:
            return
        self._start(key).task.add_done_callback(self._logged)

    def put(self, key: K, value: V) -> None:
        """A value just written by this process: newer than any read under way."""
        self._store(key, Hit(time.monotonic(), value))
        if self._tell is not None:
            self._tell(key)

    def forget(self, key: K) -> None:
        self._hits.pop(key, None)
        if self._tell is not None:
            self._tell(key)

    # -- reads -------------------------------------------------------------------

    async def _join(self, key: K, not_before: float | None) -> V:
        while True:
            running = self._loading.get(key)
            if running is None:
                running = self._start(key)
            elif not_before is not None and running.started < not_before:
                # It may have read before what the caller wants to see: let
                # it finish (it serves others), then read once more.
                await asyncio.wait([running.task])
                continue
            # shield: a caller that gives up does not cancel the others' read.
            return await asyncio.shield(running.task)

    def _start(self, key: K) -> _Load[V]:
        started = time.monotonic()
        task = asyncio.get_running_loop().create_task(self._read(key, started))
        running = _Load(started, task)
        self._loading[key] = running

        def done(finished: asyncio.Task[V]) -> None:
            if self._loading.get(key) is running:
                del self._loading[key]
            if not finished.cancelled():
                finished.exception()  # retrieved: the callers that waited have it
        task.add_done_callback(done)
        return running

    async def _read(self, key: K, started: float) -> V:
        value = await self._load_one(key)
        current = self._hits.get(key)
        if current is not None and current.at > started:
            return current.value  # put() while we read: newer than what we read
        self._store(key, Hit(started, value))
        return value

    def _store(self, key: K, hit: Hit[V]) -> None:
        if len(self._hits) >= self._limit and key not in self._hits:
            self._hits.clear()
        self._hits[key] = hit

    def _logged(self, task: asyncio.Task[V]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("reading the %s failed", self._what, exc_info=task.exception())
