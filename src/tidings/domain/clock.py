"""Server time, in integer milliseconds since the epoch, as stored."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000


DAY_MS = 86_400_000


def day_start_ms(at_ms: int) -> int:
    """The start of the UTC day that holds ``at_ms``."""
    return at_ms - at_ms % DAY_MS
