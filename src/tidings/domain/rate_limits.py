"""A counted hit of a rate limit or lock-out (fixed windows), whoever
counts it: the database (store/rate_limits.py) or Redis in a cluster
(bus/redis_counters.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hit:
    # Hits in the current window, this one included.
    hits: int
    # ms since the epoch when the window ends.
    resets_at: int
