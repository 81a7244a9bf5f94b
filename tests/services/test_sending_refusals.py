"""A send or a change handed on that fails after all is answered through
its ack target's ``refused``, exactly once, by the writer's refusal hook
(Sending's ``on_refusal``; issue 19: neither the gateway nor the service
puts a callback on every send's future): the first copy's failure, a
resend's that followed it, a resend that reused the id elsewhere; never for
a stored one (a cancelled future's send is stored and acked); an answered failure is never
logged as an exception nobody retrieved. A resend found stored, and a
repeated recall, are acked once by the commit hook.

"""

from __future__ import annotations

import asyncio
import gc
from typing import Any, cast

import pytest

from tidings.bus.local import LocalBus
from tidings.domain.elements import EntryKind, MessageState
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import ConversationKey, Identity
from tidings.domain.records import CommitHook, Committed, NewMessage, StoredMessage
from tidings.services.messaging import MessagingService
from tidings.services.messaging.lanes import Lanes
from tidings.services.messaging.sending import Sending
from tidings.store.engine import Database
from tidings.store.messages import MessageStore
from tidings.store.writer import MessageWriter, RefusalHook

APP = 1400000001
ALICE = Identity(APP, "alice")


class Writer:
    """Keeps each request's future for the test to settle as the writer
    does: its hooks first, then the future."""

    def __init__(self, on_commit: CommitHook, on_refusal: RefusalHook) -> None:
        self.pending: list[tuple[NewMessage, asyncio.Future[Committed]]] = []
        self._on_commit = on_commit
        self._on_refusal = on_refusal

    def commit(self, i: int) -> None:
        request, future = self.pending[i]
        committed = stored(request)
        self._on_commit([committed])
        future.set_result(committed)

    def refuse(self, i: int, error: TidingsError) -> None:
        request, future = self.pending[i]
        self._on_refusal(request, error)
        future.set_exception(error)
        future.exception()

    def submit(self, request: NewMessage) -> asyncio.Future[Committed]:
        future: asyncio.Future[Committed] = asyncio.get_running_loop().create_future()
        self.pending.append((request, future))
        return future

    def precheck_send(self, key: ConversationKey, sender: str) -> None:
        pass


class Origin:
    device = None

    def __init__(self) -> None:
        self.acks: list[Committed] = []
        self.refusals: list[BaseException] = []

    def ack(self, committed: Committed) -> None:
        self.acks.append(committed)

    def refused(self, error: BaseException) -> None:
        self.refusals.append(error)


def sending() -> tuple[Sending, Writer]:
    out = Sending(10_000, Lanes(cast(Any, None), 10_000))
    writer = Writer(out.on_commit, out.on_refusal)
    out.bind(cast(MessageWriter, writer), None, None)
    return out, writer


def stored(request: NewMessage) -> Committed:
    return Committed(request, StoredMessage(
        7, request.key, 1, request.sender, request.client_msg_id, request.elements, "", 1,
        MessageState.NORMAL), duplicate=False)


async def settle() -> None:
    for _ in range(3):  # done-callbacks run a loop turn later, then the follower's
        await asyncio.sleep(0)


async def test_a_failed_send_and_its_follower_are_refused_once_each() -> None:
    s, writer = sending()
    first, again = Origin(), Origin()
    s.submit(ALICE, "c2c_bob", "m-1", b"[]", "", origin=first)
    s.submit(ALICE, "c2c_bob", "m-1", b"[]", "", origin=again)  # while the first is in flight
    failure = TidingsError(ErrorCode.SERVICE_UNAVAILABLE, "the disk is full")
    writer.refuse(0, failure)
    await settle()
    assert (first.refusals, again.refusals) == ([failure], [failure])
    assert (first.acks, again.acks) == ([], [])
    # Nothing was kept of the failed one: the id may be sent again.
    s.submit(ALICE, "c2c_bob", "m-1", b"[]", "", origin=Origin())
    assert len(writer.pending) == 2


async def test_a_follower_in_another_conversation_is_refused_and_the_first_is_not(
        caplog: pytest.LogCaptureFixture) -> None:
    s, writer = sending()
    first, elsewhere = Origin(), Origin()
    s.submit(ALICE, "c2c_bob", "m-2", b"[]", "", origin=first)
    s.submit(ALICE, "c2c_carol", "m-2", b"[]", "", origin=elsewhere)
    writer.commit(0)
    await settle()
    assert first.refusals == []  # its ack is Delivery's (not here)
    assert [getattr(e, "code", None) for e in elsewhere.refusals] == [
        ErrorCode.CLIENT_MSG_ID_REUSED]
    assert elsewhere.acks == []
    # Answered, so nobody need await the follower: no "exception was never
    # retrieved" with its traceback when it is collected (a client's mistake).
    del writer.pending[:]
    gc.collect()
    assert [r for r in caplog.records if r.name == "asyncio"] == []


async def test_a_cancelled_send_is_stored_and_acked_once(db: Database) -> None:
    """Nothing cancels the writer's futures; were one cancelled, the writer
    commits its send all the same, and its commit hook acks it (the answer
    follows the store, not the future), leaving nothing in flight."""
    messaging, sending_, writer = await _messaging(db)
    origin = Origin()
    messaging.submit(ALICE, "c2c_bob", "m-3", b"[]", "", origin=origin).cancel()
    await writer.stop()
    assert ([c.message.seq for c in origin.acks], origin.refusals) == ([1], [])
    assert sending_._in_flight == {}


async def test_the_writers_hooks_answer_each_write_once(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Through the real writer, after a restart (a second service and
    writer on the same store: nothing in memory): a resend found stored is
    acked once, one that reused the id elsewhere refused once, a change's
    refusal and a repeated recall answered once; nothing left in flight,
    nothing logged for the futures nobody awaited."""
    for_first, _, writer = await _messaging(db)
    first = Origin()
    await for_first.submit(ALICE, "c2c_bob", "m-4", b"[]", "", origin=first)
    await writer.stop()
    assert (len(first.acks), first.refusals) == (1, [])
    messaging, sending_, writer = await _messaging(db)
    again, elsewhere, missing, recall, recalled = (Origin() for _ in range(5))
    futures = [messaging.submit(ALICE, "c2c_bob", "m-4", b"[]", "", origin=again),
               messaging.submit(ALICE, "c2c_carol", "m-4", b"[]", "", origin=elsewhere),
               messaging.submit_change(ALICE, "c2c_bob", 99, EntryKind.RECALL, origin=missing)]
    await asyncio.wait(futures)
    await messaging.submit_change(ALICE, "c2c_bob", 1, EntryKind.RECALL, origin=recall)
    await messaging.submit_change(ALICE, "c2c_bob", 1, EntryKind.RECALL, origin=recalled)
    await writer.stop()
    assert [(c.duplicate, c.message.seq) for c in again.acks] == [(True, 1)]
    assert [getattr(e, "code", None) for e in elsewhere.refusals + missing.refusals] == [
        ErrorCode.CLIENT_MSG_ID_REUSED, ErrorCode.MESSAGE_NOT_FOUND]
    assert (again.refusals, elsewhere.acks, missing.acks) == ([], [], [])
    assert [c.duplicate for c in recall.acks + recalled.acks] == [False, True]
    assert (recall.refusals, recalled.refusals) == ([], [])
    assert sending_._in_flight == {}
    del futures
    gc.collect()
    assert [r for r in caplog.records if r.name == "asyncio"] == []


async def test_a_failing_bookkeeping_step_does_not_hold_back_the_ack(
        db: Database, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Sending's part of the commit hook runs first; were it to raise, the
    message is stored all the same, so Delivery still acks it (and the
    writer logs the failure) instead of leaving the sender waiting."""
    def broken(self: Sending, batch: list[Committed]) -> None:
        raise RuntimeError("bookkeeping")

    monkeypatch.setattr(Sending, "on_commit", broken)
    messaging, _, writer = await _messaging(db)
    origin = Origin()
    committed = await messaging.submit(ALICE, "c2c_bob", "m-5", b"[]", "", origin=origin)
    await writer.stop()
    assert [c.message.seq for c in origin.acks] == [committed.message.seq] == [1]
    assert origin.refusals == []
    assert any("commit hook failed" in r.getMessage() for r in caplog.records)


async def _messaging(db: Database) -> tuple[MessagingService, Sending, MessageWriter]:
    """A messaging service and its started writer, hooked as the runtime does."""
    messaging = MessagingService(MessageStore(db), LocalBus(), max_message_bytes=10_000,
                                 max_page=100)
    writer = MessageWriter(db, max_batch=100, on_commit=messaging.on_commit,
                           on_refusal=messaging.on_refusal)
    messaging.bind(writer)
    writer.start()
    return messaging, messaging._sending, writer
