"""Operational figures of an app: accounts, today's activity, connections."""

from __future__ import annotations

import time
from typing import Any

from tidings.bus.local import LocalBus
from tidings.domain.clock import day_start_ms, now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.store.stats import StatsStore


class StatsService:
    def __init__(self, store: StatsStore, bus: LocalBus) -> None:
        self._store = store
        self._bus = bus

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
        points = []
        for i in range(count):
            point = found.get(i, {})
            points.append({"at": since + i * step_ms,
                           "messages": int(point.get("messages", 0)),
                           "callbacks_delivered": int(point.get("callbacks_delivered", 0)),
                           "callbacks_failed": int(point.get("callbacks_failed", 0)),
                           "callback_latency_ms": point.get("callback_latency_ms")})
        return {"since": since, "step_ms": step_ms, "points": points}

    async def queues(self) -> dict[str, tuple[int, float]]:
        """The durable queues (after-callbacks, push jobs, push sends): how
        many rows wait, and how long the oldest has (seconds)."""
        return await self._store.queues(now_ms())
