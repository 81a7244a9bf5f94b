"""Operational figures of an app: accounts, today's activity, connections;
and over time (the console's charts): messages and callbacks from their
stored rows, connections and active users from a per-minute sampler whose
rows each process writes (``app_minutes``), so a cluster's figures add up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from tidings.bus.local import LocalBus
from tidings.domain.clock import day_start_ms, now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.store.stats import StatsStore
from tidings.store.writer.messages import MINUTE_MS, new_node

if TYPE_CHECKING:
    from tidings.services.auth import Authenticator

log = logging.getLogger(__name__)


# Per-minute figures (app_minutes, app_message_counts) are kept this long:
# the longest window read is the series' 7 days ("today" is at most one).
KEEP_MINUTES_MS = 8 * 86_400_000


class StatsService:
    def __init__(self, store: StatsStore, bus: LocalBus, node: str | None = None) -> None:
        self._store = store
        self._bus = bus
        self._task: asyncio.Task[None] | None = None
        # This process's rows in app_minutes: one per process start (the
        # message writer's in app_message_counts: runtime.py gives both one).
        self.node = node if node is not None else new_node()

    # -- the per-minute sampler --------------------------------------------------------

    def start(self, auth: Authenticator, interval: float) -> None:
        """Every ``interval`` seconds, this process's connections and active
        users (distinct users whose ticket it checked meanwhile) per app go
        into the current minute's rows."""
        self._task = asyncio.create_task(self._sample_every(auth, interval),
                                         name="figures-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _sample_every(self, auth: Authenticator, interval: float) -> None:
        pruned = 0
        while True:
            await asyncio.sleep(interval)
            try:
                now = now_ms()
                await self.sample(auth, now)
                if now - pruned > 3_600_000:
                    pruned = now
                    await self._store.prune_minutes(now - KEEP_MINUTES_MS)
            except Exception:  # a database hiccup loses one sample, not the sampler
                log.exception("figures: a sample was not stored")

    async def sample(self, auth: Authenticator, now: int) -> None:
        seen, auth.seen = auth.seen, {}
        connections = self._bus.connections_by_app()
        figures = {app: (connections.get(app, 0), len(seen.get(app, ())))
                   for app in connections.keys() | seen.keys()}
        await self._store.add_minutes(now - now % MINUTE_MS, self.node, figures)

    async def figures(self, sdkappid: int) -> dict[str, Any]:
        """"Today" is the current UTC day."""
        since = day_start_ms(now_ms())
        counts = await self._store.counts(sdkappid, since)
        return {
            "day": time.strftime("%Y-%m-%d", time.gmtime(since / 1000)),
            "registered_users": counts.registered_users,
            "active_users_today": counts.active_users,
            "messages_today": counts.messages,
            "connections_now": self._bus.connection_count(sdkappid),
        }

    async def series(self, sdkappid: int, minutes: int, step: int) -> dict[str, Any]:
        """The last ``minutes`` in steps of ``step`` minutes, oldest first,
        every step present (zeros where nothing happened)."""
        if not 1 <= step <= minutes <= 10_080 or minutes // step > 1440:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "minutes: up to 10080 (7 days), step: 1 to minutes, "
                               "at most 1440 steps")
        step_ms = step * 60_000
        # Whole steps, the last one the current (partial) one.
        end = (now_ms() // step_ms + 1) * step_ms
        count = -(-minutes // step)
        since = end - count * step_ms
        found = await self._store.series(sdkappid, since, step_ms)
        # A step's peak minute: users active in several minutes count once.
        connections: dict[int, int] = {}
        active: dict[int, int] = {}
        for minute, (live, users) in (await self._store.minutes(sdkappid, since)).items():
            i = (minute - since) // step_ms
            connections[i] = max(connections.get(i, 0), live)
            active[i] = max(active.get(i, 0), users)
        points = []
        for i in range(count):
            point = found.get(i, {})
            points.append({"at": since + i * step_ms,
                           "connections": connections.get(i, 0),
                           "active_users": active.get(i, 0),
                           "messages": int(point.get("messages", 0)),
                           "callbacks_delivered": int(point.get("callbacks_delivered", 0)),
                           "callbacks_failed": int(point.get("callbacks_failed", 0)),
                           "callback_latency_ms": point.get("callback_latency_ms")})
        return {"since": since, "step_ms": step_ms, "points": points}

    async def queues(self) -> dict[str, tuple[int, float]]:
        """The durable queues (after-callbacks, push jobs, push sends): how
        many rows wait, and how long the oldest has (seconds)."""
        return await self._store.queues(now_ms())
