"""Live entries that came past a gap, held a moment before a resync.

In a cluster two processes commit one conversation's entries side by side,
and their frames may cross on the way to a device (docs/cluster.md): seq 7
arrives, then seq 6 a few milliseconds later. Resyncing at once would cost a
reconnect for nothing; the session keeps such entries here for ``gap_wait``
seconds and hands each over as soon as the one before it is held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tidings.sdk._state import SeqTracker
from tidings.sdk.models import Entry


class HeldEntries:
    def __init__(self) -> None:
        self._by_conversation: dict[str, dict[int, Entry]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def __bool__(self) -> bool:
        return bool(self._by_conversation)

    def add(self, entry: Entry, wait: float, still_open: Callable[[], None]) -> None:
        """Hold ``entry``; ``still_open`` is called when anything is still
        held ``wait`` seconds after the first entry of this hold."""
        self._by_conversation.setdefault(entry.conversation_id, {})[entry.seq] = entry
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(wait, self._expire, still_open)

    def _expire(self, still_open: Callable[[], None]) -> None:
        self._timer = None
        if self._by_conversation:
            still_open()

    def next_for(self, conversation_id: str, tracker: SeqTracker) -> Entry | None:
        """The held entry that now follows what ``tracker`` holds, taken out
        (with any that are no longer needed: held already, or our own)."""
        waiting = self._by_conversation.get(conversation_id)
        if waiting is None:
            return None
        have = tracker.get(conversation_id) or 0
        for seq in [s for s in waiting if s <= have or tracker.is_own(conversation_id, s)]:
            del waiting[seq]
        following = waiting.pop(have + 1, None)
        if not waiting:
            del self._by_conversation[conversation_id]
            if not self._by_conversation:
                self.clear()
        return following

    def clear(self) -> None:
        """Nothing held (the connection ended: the next sync brings it)."""
        self._by_conversation.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
