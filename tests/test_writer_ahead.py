"""The writer's next batch sent ahead (store/writer/ahead.py): on
PostgreSQL the sends queued while a batch commits are sent before that
batch's commit hook runs; each batch is still acked after its own commit,
in seq order, and a resend among the batch sent ahead gets its first ack.
SQLite's writer keeps its turn; a change never goes ahead, nor a batch of
less than half the last one's size."""

from __future__ import annotations

import asyncio

import orjson
from sqlalchemy import text

from tidings.domain.elements import EntryKind
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import Committed, NewChange, NewMessage, Request
from tidings.store.engine import Database
from tidings.store.writer import MessageWriter

APP = 1400000042
KEY = ConversationKey(APP, ConversationKind.C2C, "alice", "bob")


def send(client_msg_id: str) -> NewMessage:
    return NewMessage(KEY, "alice", client_msg_id,
                      orjson.dumps([{"type": "text", "text": client_msg_id}]).decode(), "")


class Hook:
    """The commit hook: each batch's seqs, what the writer still queued
    then, and the seqs committed in the database then."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.writer: MessageWriter | None = None
        self.batches: list[list[int]] = []
        self.queued: list[int] = []

    def __call__(self, batch: list[Committed]) -> None:
        assert self.writer is not None
        self.batches.append([c.message.seq for c in batch])
        self.queued.append(len(self.writer._queue))


async def started(db: Database) -> tuple[MessageWriter, Hook]:
    hook = Hook(db)
    writer = MessageWriter(db, max_batch=100, on_commit=hook)
    hook.writer = writer
    writer.start()
    return writer, hook


async def in_flight(writer: MessageWriter, first: Request) -> asyncio.Future[Committed]:
    """``first`` submitted and taken off the queue by the writer (its
    batch is committing when this returns)."""
    return (await batch_in_flight(writer, [first]))[0]


async def batch_in_flight(writer: MessageWriter, requests: list[Request]
                          ) -> list[asyncio.Future[Committed]]:
    futures = [writer.submit(r) for r in requests]
    for _ in range(100):
        if not writer._queue:
            return futures
        await asyncio.sleep(0)
    raise AssertionError("the writer did not take the batch")


async def committed_seqs(db: Database) -> list[int]:
    async with db.reader.connect() as conn:
        return list((await conn.execute(text(
            "SELECT seq FROM messages WHERE client_msg_id LIKE 'm%' ORDER BY seq"))).scalars())


async def test_sends_queued_during_a_commit_are_sent_before_its_hook(db: Database) -> None:
    writer, hook = await started(db)
    try:
        await writer.submit(send("m0"))  # the conversation in memory: the short way
        first = await in_flight(writer, send("m1"))
        rest = [writer.submit(send(f"m{n}")) for n in range(2, 7)]
        assert (await first).message.seq == 2
        assert [(await f).message.seq for f in rest] == [3, 4, 5, 6, 7]
        assert hook.batches == [[1], [2], [3, 4, 5, 6, 7]]
        # At the second batch's hook the writer had taken the sends queued
        # meanwhile (PostgreSQL: sent ahead); SQLite's still queued them.
        assert hook.queued[1] == (0 if db.dialect == "postgresql" else 5)
        assert await committed_seqs(db) == list(range(1, 8))
    finally:
        await writer.stop()


async def test_a_resend_in_the_batch_sent_ahead_gets_its_first_ack(db: Database) -> None:
    writer, hook = await started(db)
    try:
        await writer.submit(send("m0"))
        first = await in_flight(writer, send("m1"))
        resent, fresh = writer.submit(send("m1")), writer.submit(send("m2"))
        assert (await first).message.seq == 2
        again, new = await resent, await fresh
        assert (again.duplicate, again.message.seq) == (True, 2)
        assert (new.duplicate, new.message.seq) == (False, 3)
        assert hook.batches == [[1], [2], [2, 3]]
        assert await committed_seqs(db) == [1, 2, 3]
        assert (await writer.submit(send("m3"))).message.seq == 4
    finally:
        await writer.stop()


async def test_a_change_waits_for_the_hook(db: Database) -> None:
    writer, hook = await started(db)
    try:
        await writer.submit(send("m0"))
        first = await in_flight(writer, send("m1"))
        recall = writer.submit(NewChange(KEY, 1, EntryKind.RECALL, "user:alice",
                                         sender="alice"))
        later = writer.submit(send("m2"))
        assert (await first).message.seq == 2
        assert (await recall).message.seq == 3
        assert (await later).message.seq == 4
        assert hook.queued[1] == 2  # neither went ahead of the second batch's hook
    finally:
        await writer.stop()


async def test_a_batch_of_less_than_half_the_last_waits_for_the_hook(db: Database) -> None:
    writer, hook = await started(db)
    try:
        await writer.submit(send("m0"))
        batch = await batch_in_flight(writer, [send(f"m{n}") for n in range(1, 11)])
        few = [writer.submit(send(f"m{n}")) for n in (11, 12, 13, 14)]
        assert [(await f).message.seq for f in batch] == list(range(2, 12))
        assert [(await f).message.seq for f in few] == [12, 13, 14, 15]
        assert hook.batches[1:] == [list(range(2, 12)), [12, 13, 14, 15]]
        assert hook.queued[1] == 4  # 4 of a batch of 10: not sent ahead
    finally:
        await writer.stop()
