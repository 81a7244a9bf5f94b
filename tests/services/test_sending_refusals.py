"""A send handed on that fails after all is answered by Sending through its
ack target's ``refused``, exactly once (issue 19: the gateway no longer puts
a callback of its own on every send's future): the first copy's failure, a
resend's that followed it, a resend that reused the id elsewhere; never for
a stored one, never for a cancelled one; an answered failure is never
logged as an exception nobody retrieved."""

from __future__ import annotations

import asyncio
import gc
from typing import Any, cast

import pytest

from tidings.domain.elements import MessageState
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import ConversationKey, Identity
from tidings.domain.records import Committed, NewMessage, StoredMessage
from tidings.services.messaging.lanes import Lanes
from tidings.services.messaging.sending import Sending
from tidings.store.writer import MessageWriter

APP = 1400000001
ALICE = Identity(APP, "alice")


class Writer:
    """Keeps each request's future for the test to settle."""

    def __init__(self) -> None:
        self.pending: list[tuple[NewMessage, asyncio.Future[Committed]]] = []

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
    writer = Writer()
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
    writer.pending[0][1].set_exception(failure)
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
    request, future = writer.pending[0]
    future.set_result(stored(request))
    await settle()
    assert first.refusals == []  # its ack is the commit hook's (not called here)
    assert [getattr(e, "code", None) for e in elsewhere.refusals] == [
        ErrorCode.CLIENT_MSG_ID_REUSED]
    assert elsewhere.acks == []
    # Answered, so nobody need await the follower: no "exception was never
    # retrieved" with its traceback when it is collected (a client's mistake).
    del writer.pending[:]
    gc.collect()
    assert [r for r in caplog.records if r.name == "asyncio"] == []


async def test_a_cancelled_send_is_not_answered() -> None:
    s, writer = sending()
    origin = Origin()
    s.submit(ALICE, "c2c_bob", "m-3", b"[]", "", origin=origin)
    writer.pending[0][1].cancel()
    await settle()
    assert (origin.refusals, origin.acks) == ([], [])
