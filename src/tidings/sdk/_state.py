"""What a client has seen, per conversation: the bookkeeping behind exact resync.

``known[conversation]`` is the last *contiguous* seq the client holds: every
message up to it was handed to the application (or is one of its own sends).
That is what ``sync`` sends back after a reconnect. Acks of our own sends may
name a seq past a gap (a peer's message committed just before ours and not yet
delivered); those wait in ``ahead`` until the gap closes, so the known seq
never skips a message that the application did not see.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Verdict(enum.Enum):
    NEW = 1        # the next message: hand it to the application
    DUPLICATE = 2  # already held (seen, or one of our own acked sends)
    GAP = 3        # something before it is missing


class SeqTracker:
    def __init__(self, known: Mapping[str, int] | None = None) -> None:
        self._known: dict[str, int] = dict(known or {})
        self._ahead: dict[str, set[int]] = {}

    def snapshot(self) -> dict[str, int]:
        return dict(self._known)

    def get(self, conversation_id: str) -> int | None:
        return self._known.get(conversation_id)

    def __contains__(self, conversation_id: object) -> bool:
        return conversation_id in self._known

    def set_base(self, conversation_id: str, seq: int) -> None:
        """Start following a conversation from ``seq`` (held up to it)."""
        self._known[conversation_id] = seq
        self._absorb(conversation_id)

    def forget(self, conversation_id: str) -> None:
        """Stop following a conversation (a group the user is no longer in)."""
        self._known.pop(conversation_id, None)
        self._ahead.pop(conversation_id, None)

    def own(self, conversation_id: str, seq: int) -> None:
        """One of our sends was stored with ``seq``: we hold that message."""
        if seq <= self._known.get(conversation_id, 0):
            return
        self._ahead.setdefault(conversation_id, set()).add(seq)
        self._absorb(conversation_id)

    def is_own(self, conversation_id: str, seq: int) -> bool:
        return seq in self._ahead.get(conversation_id, ())

    def offer(self, conversation_id: str, seq: int, *, accept_gap: bool = False) -> Verdict:
        """A message arrived; may it go to the application? ``accept_gap``
        takes it even past a gap (the server's sync answer is authoritative)."""
        have = self._known.get(conversation_id, 0)
        if seq <= have or self.is_own(conversation_id, seq):
            return Verdict.DUPLICATE
        if seq != have + 1 and not accept_gap:
            return Verdict.GAP
        self._known[conversation_id] = seq
        self._absorb(conversation_id)
        return Verdict.NEW

    def _absorb(self, conversation_id: str) -> None:
        ahead = self._ahead.get(conversation_id)
        if not ahead:
            return
        have = self._known.get(conversation_id, 0)
        while have + 1 in ahead:
            have += 1
        self._known[conversation_id] = have
        ahead.difference_update([s for s in ahead if s <= have])
        if not ahead:
            del self._ahead[conversation_id]
