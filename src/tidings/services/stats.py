"""Operational figures of an app: accounts, today's activity, connections."""

from __future__ import annotations

import time
from typing import Any

from tidings.bus.local import LocalBus
from tidings.domain.clock import day_start_ms, now_ms
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

    async def queues(self) -> dict[str, tuple[int, float]]:
        """The durable queues (after-callbacks, push jobs, push sends): how
        many rows wait, and how long the oldest has (seconds)."""
        return await self._store.queues(now_ms())
