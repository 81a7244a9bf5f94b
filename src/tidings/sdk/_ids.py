"""The SDK's ``client_msg_id`` for a send made without one."""

from __future__ import annotations

import os
import time


def new_client_msg_id() -> str:
    """32 hex digits: the milliseconds since the epoch (12), then 80 random
    bits (20), so one client's ids rise with time (ids made in the same
    millisecond in any order). The server keeps every sender's ids in one
    b-tree for the idempotent resend (``uq_messages_client_id``): an id that
    rises lands on its sender's last page, where a random one (``uuid4``)
    lands on any page of the sender's history, a page written and synced
    per message (at saturation ~8-10 us a message more of the server's CPU,
    ~25 %: bench/journal/perf-sat.md, "the dedup key's pages")."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"
