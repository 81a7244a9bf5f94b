"""The cluster bus's two small parts without Redis: the login window's
rounds (bus/settle.py) and a conversation's entries in seq order
(bus/seq_order.py)."""

from __future__ import annotations

import asyncio

from tidings.bus.seq_order import SeqOrder
from tidings.bus.settle import Rounds


async def test_an_entry_waits_for_the_ones_before_it_and_its_copies_go_first() -> None:
    order, got = SeqOrder(wait=5), []
    for seq, viewer in [(1, "a"), (1, "b"), (3, "a"), (3, "b"), (2, "a"), (2, "b")]:
        order.offer(9, seq, lambda s=seq, v=viewer: got.append((v, s)))
    await asyncio.sleep(0)  # what waited goes at the end of the turn
    for viewer in "ab":
        assert [s for v, s in got if v == viewer] == [1, 2, 3]
    assert order.held == 2 and order.timed_out == 0


async def test_an_entry_that_never_comes_holds_the_others_only_for_the_wait() -> None:
    order, got = SeqOrder(wait=0.05), []
    for seq in (1, 3, 5, 4):
        order.offer(9, seq, lambda s=seq: got.append(s))
    assert got == [1]
    await asyncio.sleep(0.2)
    assert got == [1, 3, 4, 5] and order.timed_out == 1
    order.offer(9, 2, lambda: got.append(2))  # late: handed on at once, not lost
    order.offer(9, 6, lambda: got.append(6))
    assert got == [1, 3, 4, 5, 2, 6]


async def test_a_conversation_quiet_for_a_while_starts_afresh() -> None:
    """A member away (reconnecting) meanwhile: entries this node never saw
    must not hold the next one."""
    order = SeqOrder(wait=0.01, fresh=0.05)
    order.offer(1, 4, lambda: None)
    order.offer(2, 4, lambda: None)
    await asyncio.sleep(0.1)
    order.offer(2, 5, lambda: None)
    order.prune()
    assert len(order) == 1  # conversation 1 went quiet
    got: list[int] = []
    order.offer(2, 9, lambda: got.append(9))  # 5 was just now: 9 waits
    assert got == []
    order.offer(1, 9, lambda: got.append(9))
    assert got == [9]


async def test_a_round_is_settled_when_every_node_acknowledged_it_or_left() -> None:
    rounds = Rounds(timeout=5)
    assert rounds.mark() == 0 and rounds.take({"x"}) is None  # no news: no round
    rounds.due = True
    mark = rounds.mark()
    assert rounds.take({"x", "y"}) == mark == 1
    waiting = asyncio.create_task(rounds.wait(mark))
    await asyncio.sleep(0)
    rounds.acked("x", 1)
    await asyncio.sleep(0)
    assert not waiting.done() and rounds.missing(mark) == {"y"}
    rounds.gone("y")  # taken for dead, or stopped
    assert await waiting is True
    rounds.due = True
    assert rounds.take(set()) is None and rounds.settled(2)  # alone: nothing to wait for


async def test_a_round_nobody_answers_times_out() -> None:
    rounds = Rounds(timeout=0.05)
    rounds.due = True
    mark = rounds.mark()
    rounds.take({"x"})
    assert await rounds.wait(mark) is False
    rounds.acked("x", 3)  # a later acknowledgement covers the earlier rounds
    assert rounds.settled(mark)
