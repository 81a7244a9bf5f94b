"""The login window's rounds (docs/cluster.md, "The login window").

A device that logs in on node B must not miss a message committed on node A
after B's sync read the store: A must then know of the device, or it will
not route the frame to B. So B's sync reads only once every other node has
applied B's presence news. Each flush of B's bus that carries presence news
ends with a round marker on the cluster's channel; every node, having read
(and so applied) everything before it on that channel, acknowledges it to
B. A sync waits for the round of its device's news.

Rounds are per flush, not per login: a thousand logins a second on one node
cost the acknowledgements of its flushes, not of its logins. The wait
mostly overlaps the client's own round trip between the login's answer and
its sync. A node that does not answer in time (stuck, or an older version
that does not know rounds) is waited for only up to ``timeout``: then the
sync reads anyway, as before this guarantee, and the log says so.

Why nodes that joined after a round was sent need not answer it: a node
subscribes to the cluster's channel before it reads the presence hashes, and
B writes its hash before it announces. So a new node either reads the
device in B's hash or hears the announcement, before it serves anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

# Rounds still waited on, at most (each sync waits ``timeout`` at most).
KEEP_ROUNDS = 1000


class Rounds:
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        # The rounds this node has sent, and whether presence news waits
        # for the next one.
        self.sent = 0
        self.due = False
        # round -> the nodes that have not acknowledged it yet.
        self._unacked: dict[int, set[str]] = {}
        self._waits: dict[int, asyncio.Future[bool]] = {}

    def mark(self) -> int:
        """The round that covers the presence news given so far (0: none)."""
        return self.sent + 1 if self.due else self.sent

    def take(self, nodes: Iterable[str]) -> int | None:
        """A flush is about to go: the round it ends with, or None when no
        news is due or no other node could acknowledge it."""
        if not self.due:
            return None
        self.due = False
        self.sent += 1
        waiting = set(nodes)
        if waiting:
            self._unacked[self.sent] = waiting
            if len(self._unacked) > KEEP_ROUNDS:
                # A node that never answers and is never dropped: the
                # oldest rounds' waits have long timed out.
                del self._unacked[min(self._unacked)]
        else:
            self._wake()
        return self.sent if waiting else None

    def acked(self, node: str, upto: int) -> None:
        """``node`` has applied every round up to ``upto`` (it reads them
        in order)."""
        for n in [n for n in self._unacked if n <= upto]:
            self._forget(n, node)
        self._wake()

    def gone(self, node: str) -> None:
        """A node stopped or was taken for dead: nobody waits for it."""
        for n in list(self._unacked):
            self._forget(n, node)
        self._wake()

    def reset(self) -> None:
        """The cluster is read afresh (after a Redis outage): the rounds
        sent before are not waited for."""
        self._unacked.clear()
        self._wake()

    def settled(self, mark: int) -> bool:
        return mark <= self.sent and not any(n <= mark for n in self._unacked)

    def missing(self, mark: int) -> set[str]:
        """The nodes that have not acknowledged the rounds up to ``mark``."""
        return {node for n, nodes in self._unacked.items() if n <= mark for node in nodes}

    async def wait(self, mark: int) -> bool:
        """Until every node has applied the rounds up to ``mark``; False
        when the timeout came first."""
        if self.settled(mark):
            return True
        future = self._waits.get(mark)
        if future is None:
            # One future and one timer per round, whatever the logins
            # waiting on it (a wait_for each cost 30 us a login).
            loop = asyncio.get_running_loop()
            future = self._waits[mark] = loop.create_future()
            timer = loop.call_later(self._timeout, self._expire, mark)
            future.add_done_callback(lambda _: timer.cancel())
        # Shielded: a sync cancelled (its connection gone) leaves the
        # others waiting.
        return await asyncio.shield(future)

    def _forget(self, n: int, node: str) -> None:
        nodes = self._unacked[n]
        nodes.discard(node)
        if not nodes:
            del self._unacked[n]

    def _wake(self) -> None:
        for mark in [m for m in self._waits if self.settled(m)]:
            future = self._waits.pop(mark)
            if not future.done():
                future.set_result(True)

    def _expire(self, mark: int) -> None:
        future = self._waits.pop(mark, None)
        if future is not None and not future.done():
            future.set_result(False)
