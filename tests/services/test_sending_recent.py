"""The recent acks: a resend of any of the latest RECENT_ACKS sends is
answered from memory, with the first copy's ack and nothing written; no
more than RECENT_ACKS are kept once a commit is done (the oldest dropped
first). Any cheaper eviction (bench/journal/perf-loop6.md) keeps both."""

from __future__ import annotations

import pytest

from tests.services.test_sending_refusals import ALICE, Origin, sending
from tidings.services.messaging import sending as sending_module

LIMIT = 4


async def test_the_latest_sends_are_remembered_and_the_memory_is_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sending_module, "RECENT_ACKS", LIMIT)
    s, writer = sending()
    for n in range(5 * LIMIT + 1):
        s.submit(ALICE, "c2c_bob", f"m-{n}", b"[]", "", origin=Origin())
        writer.commit(n)
        # The latest LIMIT sends (all so far, at first), and no more.
        known = [m for m in range(n + 1) if s.recent_ack(ALICE, f"m-{m}") is not None]
        assert known == list(range(max(0, n - LIMIT + 1), n + 1))


async def test_a_resend_is_answered_from_memory_once_the_oldest_are_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sending_module, "RECENT_ACKS", LIMIT)
    s, writer = sending()
    for n in range(LIMIT + 1):  # m-0 is dropped, m-1 .. m-4 kept
        s.submit(ALICE, "c2c_bob", f"m-{n}", b"[]", "", origin=Origin())
        writer.commit(n)
    assert s.recent_ack(ALICE, "m-0") is None
    again = Origin()
    repeat = s.submit(ALICE, "c2c_bob", "m-1", b"[]", "", origin=again)
    assert len(writer.pending) == LIMIT + 1  # nothing handed to the writer
    committed = repeat.result()
    assert committed.duplicate and committed.message.client_msg_id == "m-1"
    assert [a.message.seq for a in again.acks] == [1]
