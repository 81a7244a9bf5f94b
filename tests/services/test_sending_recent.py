"""The recent acks: a resend of any of the latest RECENT_ACKS sends is
answered from memory, with the first copy's ack and nothing written; the
memory stays bounded (at most twice RECENT_ACKS entries: two dicts, the
older dropped whole when the newer fills)."""

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
        # Every one of the latest LIMIT sends (or all so far) is known...
        for latest in range(max(0, n - LIMIT + 1), n + 1):
            assert s.recent_ack(ALICE, f"m-{latest}") is not None, (n, latest)
        # ...and no more than twice as many are kept.
        known = [m for m in range(n + 1) if s.recent_ack(ALICE, f"m-{m}") is not None]
        assert len(known) <= 2 * LIMIT
    # The oldest were forgotten.
    assert s.recent_ack(ALICE, "m-0") is None


async def test_a_resend_of_a_send_in_the_older_half_is_answered_from_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sending_module, "RECENT_ACKS", LIMIT)
    s, writer = sending()
    for n in range(LIMIT + 1):  # m-0 .. m-3 fill the newer dict, then move to the older
        s.submit(ALICE, "c2c_bob", f"m-{n}", b"[]", "", origin=Origin())
        writer.commit(n)
    again = Origin()
    repeat = s.submit(ALICE, "c2c_bob", "m-1", b"[]", "", origin=again)
    assert len(writer.pending) == LIMIT + 1  # nothing handed to the writer
    committed = repeat.result()
    assert committed.duplicate and committed.message.client_msg_id == "m-1"
    assert [a.message.seq for a in again.acks] == [1]
