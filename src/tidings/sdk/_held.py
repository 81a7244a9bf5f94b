"""Live entries that came past a gap, held a moment before a resync.

In a cluster two processes commit one conversation's entries side by side,
and their frames may cross on the way to a device (docs/cluster.md): seq 7
arrives, then seq 6 a few milliseconds later. Resyncing at once would cost a
reconnect for nothing; the session keeps such entries here for ``gap_wait``
seconds and hands each over as soon as the one before it is held.

Each conversation's gap has its own wait: one timer for all, started by the
first hold, resynced a gap opened in another conversation just before it
fired. A conversation's wait starts again when its held run moves on (the
gap that is left is another, later one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tidings.sdk._state import SeqTracker
from tidings.sdk.models import Entry


class _Hold:
    """One conversation's held entries, by seq, and its timer."""

    __slots__ = ("entries", "moved", "still_open", "timer", "wait")

    def __init__(self, wait: float, still_open: Callable[[], None]) -> None:
        self.entries: dict[int, Entry] = {}
        self.moved = False  # something was handed over in this run
        self.wait = wait
        self.still_open = still_open
        self.timer = asyncio.get_running_loop().call_later(wait, self._expire)

    def _expire(self) -> None:
        if self.entries:
            self.still_open()

    def restart(self) -> None:
        self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.wait, self._expire)


class HeldEntries:
    def __init__(self) -> None:
        self._by_conversation: dict[str, _Hold] = {}

    def __bool__(self) -> bool:
        return bool(self._by_conversation)

    def add(self, entry: Entry, wait: float, still_open: Callable[[], None]) -> None:
        """Hold ``entry``; ``still_open`` is called when its conversation
        still holds anything ``wait`` seconds after its hold began (or last
        moved on)."""
        hold = self._by_conversation.get(entry.conversation_id)
        if hold is None:
            hold = self._by_conversation[entry.conversation_id] = _Hold(wait, still_open)
        hold.entries[entry.seq] = entry

    def next_for(self, conversation_id: str, tracker: SeqTracker) -> Entry | None:
        """The held entry that now follows what ``tracker`` holds, taken out;
        at the end of a run (None), those no longer needed go too (held
        already, or our own): looked over once a run, not once an entry
        (a long run was quadratic)."""
        hold = self._by_conversation.get(conversation_id)
        if hold is None:
            return None
        waiting = hold.entries
        have = tracker.get(conversation_id) or 0
        following = waiting.pop(have + 1, None)
        if following is not None:
            hold.moved = True
            return following
        for seq in [s for s in waiting if s <= have or tracker.is_own(conversation_id, s)]:
            del waiting[seq]
        if not waiting:
            hold.timer.cancel()
            del self._by_conversation[conversation_id]
        elif hold.moved:
            hold.moved = False
            hold.restart()
        return None

    def clear(self) -> None:
        """Nothing held (the connection ended: the next sync brings it)."""
        for hold in self._by_conversation.values():
            hold.timer.cancel()
        self._by_conversation.clear()
