"""A conversation's entries handed to this node's devices in seq order
(docs/cluster.md, "Order across processes").

Two processes may commit entries of one conversation one after the other
(the database orders them), and their frames reach a third by two paths:
seq 6 may come before seq 5. The node keeps, per conversation whose entries
it hands on, the last seq it handed on; an entry past the next one waits
until the missing ones arrive, or ``wait`` seconds at most: then what waits
goes on in seq order (an entry that never comes, one that only other
members see say, must not hold the others longer). Nothing is dropped: an
entry that arrives after its successors were let go is handed on at once.

An entry of a conversation the node has not handed on for ``fresh``
seconds is handed on at once, as if it were the first: entries that far
apart do not cross, and meanwhile the node may have had no device there
(a member that reconnects) and missed some, which must not hold the next
one. ``prune`` (every heartbeat) forgets those conversations. A frame for several
identities is one call here; the copies of a one-to-one entry (one per
member, each rendered for its viewer) are several calls, all in one loop
turn (one commit's fan-out here, or one Redis message from the committing
node): what waited for that entry goes on at the end of the turn, after
every copy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

Hand = Callable[[], None]


class _Conversation:
    __slots__ = ("at", "held", "last", "releasing", "timer")

    def __init__(self, last: int, at: float) -> None:
        self.last = last  # the last seq handed on
        self.at = at  # when (the loop's clock)
        self.held: dict[int, list[Hand]] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.releasing = False


class SeqOrder:
    def __init__(self, wait: float, fresh: float = 1.0) -> None:
        self._wait = wait
        self._fresh = max(fresh, 2 * wait)
        self._conversations: dict[int, _Conversation] = {}
        # Entries held and let go on the timeout (no successor came): the
        # figures' count.
        self.held = 0
        self.timed_out = 0
        # The bus's loop, kept from the first entry on: ``get_running_loop``
        # asks the kernel for the process id on each call (Python 3.11),
        # and ``offer`` runs for every entry a node hands on.
        self._loop: asyncio.AbstractEventLoop | None = None

    def offer(self, conversation_id: int, seq: int, hand: Hand) -> bool:
        """Hand an entry on now (True) or once the seqs before it came (False)."""
        conv = self._conversations.get(conversation_id)
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        if conv is None or (now - conv.at > self._fresh and not conv.held):
            self._conversations[conversation_id] = _Conversation(seq, now)
            hand()
            return True
        conv.at = now
        if seq <= conv.last:
            hand()  # another identity's copy, or an entry let go late
            return True
        if seq == conv.last + 1:
            hand()
            conv.last = seq
            if conv.held and not conv.releasing:
                # The other copies of this entry (a one-to-one entry is
                # rendered per member) arrive in this same loop turn: they
                # go before the entries that waited for it.
                conv.releasing = True
                loop.call_soon(self._release, conversation_id)
            return True
        conv.held.setdefault(seq, []).append(hand)
        self.held += 1
        if conv.timer is None:
            conv.timer = loop.call_later(
                self._wait, self._give_up, conversation_id)
        return False

    def _release(self, conversation_id: int) -> None:
        """What waited for the seqs that came."""
        conv = self._conversations.get(conversation_id)
        if conv is None:
            return
        conv.releasing = False
        held = conv.held
        while held and (seq := min(held)) <= conv.last + 1:
            conv.last = max(conv.last, seq)
            for hand in held.pop(seq):
                hand()
        if not held and conv.timer is not None:
            conv.timer.cancel()
            conv.timer = None

    def _give_up(self, conversation_id: int) -> None:
        """The missing seqs did not come in time: what waits goes on, in order."""
        conv = self._conversations.get(conversation_id)
        if conv is None:
            return
        conv.timer = None
        held, conv.held = conv.held, {}
        self.timed_out += 1
        for seq in sorted(held):
            conv.last = seq
            for hand in held[seq]:
                hand()

    def prune(self) -> None:
        """Forget the conversations without an entry for ``fresh`` seconds."""
        old = asyncio.get_running_loop().time() - self._fresh
        for conversation_id in [c for c, conv in self._conversations.items()
                                if conv.at < old and not conv.held]:
            del self._conversations[conversation_id]

    def __len__(self) -> int:
        return len(self._conversations)
