"""The message writer in-process, on SQLite and PostgreSQL: the rows that
features register (TransactionRows) see each stored entry, are written once
per batch in the entry's own transaction, and go with it when the batch
fails; a resend after the failure is stored once, with its rows once."""

from __future__ import annotations

from operator import attrgetter

import orjson
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPICursor

from tests.support import count_texts_sql
from tidings.domain.elements import EntryKind, ImportMode
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.groups import GroupState
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import Committed, NewChange, NewMessage, StoredMessage
from tidings.store.callbacks import OutboxRows
from tidings.store.engine import Database
from tidings.store.push import PushJobRows
from tidings.store.search import TextRows
from tidings.store.writer import MessageWriter, TransactionRows

APP = 1400000042
KEY = ConversationKey(APP, ConversationKind.C2C, "alice", "bob")


def text_message(client_msg_id: str, words: str) -> NewMessage:
    return NewMessage(KEY, "alice", client_msg_id,
                      orjson.dumps([{"type": "text", "text": words}]).decode(), "",
                      after_send=("web", "127.0.0.1"))


class Recorder(TransactionRows):
    """Logs what the writer calls, and fails its flush when told to."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.fail = False

    def message(self, r: NewMessage, entry: StoredMessage, group: GroupState | None,
                now: int) -> None:
        self.calls.append(("message", r.client_msg_id, entry.seq))

    def change(self, cursor: DBAPICursor, r: NewChange, before: StoredMessage,
               entry: StoredMessage, now: int) -> None:
        assert entry.target is not None
        self.calls.append(("change", before.elements != "[]", entry.target.elements,
                           entry.seq, entry.target_seq))

    def flush(self, cursor: DBAPICursor) -> None:
        self.calls.append(("flush",))
        if self.fail:
            self.fail = False
            raise RuntimeError("a feature's rows could not be written")

    def discard(self) -> None:
        self.calls.append(("discard",))


PUSH_JOBS_SQL = ("SELECT (SELECT count(*) FROM push_jobs)"
                 " + (SELECT count(*) FROM messages WHERE push_options IS NOT NULL)")


def recorded_writer(db: Database) -> tuple[MessageWriter, Recorder]:
    """A started writer with every feature's rows, the recorder's last."""
    recorder = Recorder()
    writer = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    writer.register(TextRows(db), OutboxRows(db))
    PushJobRows(db, lambda app: True).attach(writer)
    writer.register(recorder)
    writer.start()
    return writer, recorder


def traced_writer(db: Database) -> tuple[MessageWriter, Recorder, list[str]]:
    """A started writer with the outbox's, push's and the recorder's rows
    (no later work: the statements are the batches'), and on SQLite every
    statement its batch thread runs, as traced (a line per row of an
    ``executemany``)."""
    statements: list[str] = []
    if db.batch is not None:
        event.listen(db.batch.engine, "connect",
                     lambda c, r: c.set_trace_callback(statements.append))
    recorder = Recorder()
    writer = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    writer.register(OutboxRows(db), recorder)
    PushJobRows(db, lambda app: True).attach(writer)
    writer.start()
    return writer, recorder, statements


async def counts(db: Database) -> dict[str, int]:
    async with db.reader.connect() as conn:
        return {table: (await conn.execute(text(
            count_texts_sql(db.dialect == "sqlite") if table == "message_texts"
            # On SQLite a message's push job is its push_options column.
            else PUSH_JOBS_SQL if table == "push_jobs"
            else f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("messages", "message_texts", "callback_outbox", "push_jobs")}


async def test_features_see_each_entry_and_write_once_per_batch(db: Database) -> None:
    recorder = Recorder()
    writer = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    writer.register(TextRows(db), recorder, OutboxRows(db))
    PushJobRows(db, lambda app: True).attach(writer)
    writer.start()
    try:
        # Submitted before the loop runs: one batch, one flush.
        first = [writer.submit(text_message(f"m{i}", f"hello {i}")) for i in range(3)]
        done = [await f for f in first]
        assert [d.message.seq for d in done] == [1, 2, 3]
        assert recorder.calls == [("message", "m0", 1), ("message", "m1", 2),
                                  ("message", "m2", 3), ("flush",)]
        assert await counts(db) == {"messages": 3, "message_texts": 3, "callback_outbox": 3,
                                    "push_jobs": 3}
        recorder.calls.clear()
        recall = await writer.submit(NewChange(KEY, 2, EntryKind.RECALL, "user:alice",
                                               sender="alice"))
        assert recall.message.seq == 4
        # The change with its target before and after; the search text goes.
        assert recorder.calls == [("change", True, "[]", 4, 2), ("flush",)]
        assert (await counts(db))["message_texts"] == 2
    finally:
        await writer.stop()


class Counted(Recorder):
    """A feature with nothing to add per message (SQLite's search text and
    push jobs): told how many were stored, once per flush."""

    per_message = False

    def stored(self, count: int) -> None:
        self.calls.append(("stored", count))


async def test_a_feature_without_per_message_rows_is_told_the_count_once_per_flush(
        db: Database) -> None:
    counted = Counted()
    writer = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    writer.register(counted)
    writer.start()
    try:
        for future in [writer.submit(text_message(f"c{i}", "hi")) for i in range(3)]:
            await future
        await writer.submit(NewChange(KEY, 2, EntryKind.RECALL, "user:alice", sender="alice"))
        assert counted.calls == [("stored", 3), ("flush",), ("change", True, "[]", 4, 2),
                                 ("flush",)]
    finally:
        await writer.stop()


class Mentioned(Recorder):
    """A feature that reads a message's mentions alone (as MentionRows)."""

    only_for = attrgetter("mentions")


async def test_a_feature_with_only_for_is_called_for_those_messages_alone(
        db: Database) -> None:
    mentioned, every = Mentioned(), Recorder()
    writer = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    writer.register(mentioned, every)
    writer.start()

    def send(i: int, mentions: tuple[str, ...] = ()) -> NewMessage:
        return NewMessage(KEY, "alice", f"o{i}", "[]", "", mentions=mentions)

    try:
        # The first batch makes the conversation (the long way), the second
        # finds it in memory (the known way): both ask ``only_for``.
        for batch in ([send(0), send(1, ("bob",)), send(2)],
                      [send(3, ("@all",)), send(4), send(5)]):
            for future in [writer.submit(r) for r in batch]:
                await future
        assert writer.batches == 2
        assert mentioned.calls == [("message", "o1", 2), ("flush",), ("message", "o3", 4),
                                   ("flush",)]
        assert [c[1] for c in every.calls if c[0] == "message"] == [f"o{i}" for i in range(6)]
        # The answer's records, built by position (messages.py): each field.
        done = await writer.submit(NewMessage(KEY, "alice", "o6", "[1]", "cc", time=77,
                                              imported=ImportMode.REALTIME,
                                              mentions=("bob",)))
        assert (done.request.client_msg_id, done.duplicate, done.dropped, done.recipients,
                done.result) == ("o6", False, False, None, None)
        assert done.message == StoredMessage(
            done.message.conversation_id, KEY, 7, "alice", "o6", "[1]", "cc", created_at=77,
            state=0, kind=EntryKind.MESSAGE, target_seq=0, imported=ImportMode.REALTIME,
            edited_at=None, change_seq=0, changed_by="", target=None, mentions='["bob"]')
    finally:
        await writer.stop()


async def test_a_failed_batch_stores_nothing_and_its_resend_is_stored_once(
        db: Database) -> None:
    writer, recorder = recorded_writer(db)
    try:
        await writer.submit(text_message("m0", "before"))
        recorder.fail = True
        with pytest.raises(TidingsError) as failed:
            await writer.submit(text_message("m1", "lost with its batch"))
        assert failed.value.code is ErrorCode.SERVICE_UNAVAILABLE
        assert ("discard",) in recorder.calls
        # The message and every feature's rows went with the transaction.
        assert await counts(db) == {"messages": 1, "message_texts": 1, "callback_outbox": 1,
                                    "push_jobs": 1}
        again = await writer.submit(text_message("m1", "lost with its batch"))
        assert isinstance(again, Committed) and not again.duplicate
        assert again.message.seq == 2  # the failed batch used no seq
        resent = await writer.submit(text_message("m1", "lost with its batch"))
        assert resent.duplicate and resent.message.seq == 2
        assert await counts(db) == {"messages": 2, "message_texts": 2, "callback_outbox": 2,
                                    "push_jobs": 2}
    finally:
        await writer.stop()


async def test_first_messages_make_their_conversations_and_a_new_writer_finds_them(
        db: Database) -> None:
    # 450 first messages in one batch: more conversations than one lookup
    # takes (400), each made with its two members by the batch.
    keys = [ConversationKey(APP, ConversationKind.C2C, "alice", f"peer{i:03}")
            for i in range(450)]

    def first(i: int, seq_tag: str) -> NewMessage:
        return NewMessage(keys[i], "alice", f"{seq_tag}-{i}", '[{"type":"text","text":"hi"}]',
                          "")

    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.start()
    try:
        pending = [writer.submit(first(i, "a")) for i in range(450)]
        done = [await f for f in pending]
    finally:
        await writer.stop()
    assert writer.batches == 1
    assert {d.message.seq for d in done} == {1}
    assert len({d.message.conversation_id for d in done}) == 450
    async with db.reader.connect() as conn:
        members = (await conn.execute(text(
            "SELECT count(*), count(DISTINCT conversation_id) FROM conversation_members"
            " WHERE sdkappid = :app"), {"app": APP})).one()
    assert tuple(members) == (900, 450)
    # A writer that starts afresh (a restart) reads them back, 400 and 50:
    # the next messages continue each conversation, none is made twice.
    again = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    again.start()
    try:
        pending = [again.submit(first(i, "b")) for i in range(450)]
        later = [await f for f in pending]
        resent = await again.submit(first(7, "a"))
    finally:
        await again.stop()
    assert [d.message.seq for d in later] == [2] * 450
    assert [d.message.conversation_id for d in later] == [d.message.conversation_id
                                                         for d in done]
    assert resent.duplicate and resent.message.seq == 1
    async with db.reader.connect() as conn:
        made = (await conn.execute(text("SELECT count(*) FROM conversations WHERE sdkappid = :app"),
                                   {"app": APP})).scalar_one()
    assert made == 450


async def test_a_resend_among_new_sends_gets_its_first_ack_and_the_rest_their_seqs(
        db: Database) -> None:
    # Sends to a conversation in memory skip the dedup read (the short
    # way): the resend among them fails the batch's insert on the client
    # id's key, and the batch goes the long way, counters as before.
    writer, recorder = recorded_writer(db)
    try:
        for n in range(2):
            await writer.submit(text_message(f"m{n}", f"hello {n}"))
        recorder.calls.clear()
        connects: list[object] = []
        if db.batch is not None:  # SQLite's batch thread keeps its connection
            event.listen(db.batch.engine, "connect", lambda c, r: connects.append(c))
        batch = [writer.submit(text_message(c, f"words of {c}")) for c in ("m2", "m1", "m3")]
        fresh, resent, last = [await f for f in batch]
        assert ("discard",) in recorder.calls  # the short way was tried
        assert connects == []
        assert (fresh.duplicate, fresh.message.seq) == (False, 3)
        assert (resent.duplicate, resent.message.seq) == (True, 2)
        assert resent.message.elements == text_message("m1", "hello 1").elements
        assert (last.duplicate, last.message.seq) == (False, 4)
        # The rows the long way wrote, once each (the short way's went).
        assert recorder.calls[-3:] == [("message", "m2", 3), ("message", "m3", 4), ("flush",)]
        assert await counts(db) == {"messages": 4, "message_texts": 4, "callback_outbox": 4,
                                    "push_jobs": 4}
        after = await writer.submit(text_message("m4", "after"))
        assert after.message.seq == 5
        # The same client id in another conversation the writer has in
        # memory: refused (not a resend), that conversation's seq unused.
        other = ConversationKey(APP, ConversationKind.C2C, "alice", "carol")
        first = await writer.submit(NewMessage(other, "alice", "c0", "[]", ""))
        with pytest.raises(TidingsError) as reused:
            await writer.submit(NewMessage(other, "alice", "m4", "[]", ""))
        assert reused.value.code is ErrorCode.CLIENT_MSG_ID_REUSED
        assert (await writer.submit(NewMessage(other, "alice", "c1", "[]", ""))
                ).message.seq == first.message.seq + 1
        async with db.reader.connect() as conn:
            conv = (await conn.execute(text(
                "SELECT c.last_seq, c.last_message_seq, c.last_msg_no, m.read_seq"
                " FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id"
                " WHERE c.sdkappid = :app AND c.b = 'bob' AND m.user_id = 'alice'"),
                {"app": APP})).one()
        assert tuple(conv) == (5, 5, 5, 5)
    finally:
        await writer.stop()


async def test_a_lone_send_writes_its_row_its_counters_and_its_read_cursor_only(
        db: Database) -> None:
    # A batch of one send to a conversation in memory (the usual batch
    # below saturation) takes the known way (MessageWriter._write_known): its
    # resend, its history import and the long way's first message must
    # leave the same rows and counters as a batch of many would.
    writer, recorder, statements = traced_writer(db)
    try:
        assert (await writer.submit(text_message("m0", "makes the conversation"))
                ).message.seq == 1
        statements.clear()
        recorder.calls.clear()
        second = await writer.submit(text_message("m1", "alone"))
        assert (second.duplicate, second.message.seq) == (False, 2)
        assert recorder.calls == [("message", "m1", 2), ("flush",)]
        if db.batch is not None:
            assert [" ".join(s.split()[:3]) for s in statements] == [
                "BEGIN IMMEDIATE", "INSERT INTO messages", "INSERT INTO callback_outbox",
                "UPDATE conversations SET", "UPDATE conversation_members SET", "COMMIT"]
            # (SQLite's message counts are the search step's, after the commit.)
        resent = await writer.submit(text_message("m1", "alone"))
        assert (resent.duplicate, resent.message.seq) == (True, 2)
        # Older than the conversation's last message: history (no msg_no,
        # no read cursor, not the last message), still the next seq.
        old = await writer.submit(NewMessage(KEY, "alice", "old", "[]", "", time=1,
                                             imported=ImportMode.HISTORY))
        assert old.message.seq == 3
        assert (await writer.submit(text_message("m2", "after"))).message.seq == 4
        rows = await counts(db)
        del rows["message_texts"]  # no TextRows here (the search step's, on SQLite)
        assert rows == {"messages": 4, "callback_outbox": 3, "push_jobs": 3}
        async with db.reader.connect() as conn:
            conv = (await conn.execute(text(
                "SELECT c.last_seq, c.last_message_seq, c.last_msg_no, m.read_seq,"
                " m.read_msg_no FROM conversations c"
                " JOIN conversation_members m ON m.conversation_id = c.id"
                " WHERE c.sdkappid = :app AND c.b = 'bob' AND m.user_id = 'alice'"),
                {"app": APP})).one()
        assert tuple(conv) == (4, 4, 3, 4, 3)
    finally:
        await writer.stop()


async def test_a_batch_of_sends_to_several_conversations_writes_each_table_once(
        db: Database) -> None:
    # A batch of sends to conversations in memory (on SQLite the known way,
    # MessageWriter._write_known, whatever its size): one statement per
    # table for the whole batch, each conversation's counters once, every
    # sender's read cursor moved to its own last message.
    writer, recorder, statements = traced_writer(db)
    carol = ConversationKey(APP, ConversationKind.C2C, "alice", "carol")
    try:
        await writer.submit(text_message("k0", "makes the conversation"))
        await writer.submit(NewMessage(carol, "carol", "c0", "[]", ""))
        statements.clear()
        recorder.calls.clear()
        sends = [text_message("k1", "one"), NewMessage(carol, "alice", "c1", "[]", ""),
                 NewMessage(KEY, "bob", "k2", "[]", ""), text_message("k3", "three"),
                 NewMessage(carol, "carol", "c2", "[]", "")]
        futures = [writer.submit(r) for r in sends]
        done = [await f for f in futures]
        assert [(d.duplicate, d.message.key, d.message.seq, d.message.sender) for d in done] == [
            (False, KEY, 2, "alice"), (False, carol, 2, "alice"), (False, KEY, 3, "bob"),
            (False, KEY, 4, "alice"), (False, carol, 3, "carol")]
        assert recorder.calls == [("message", "k1", 2), ("message", "c1", 2),
                                  ("message", "k2", 3), ("message", "k3", 4),
                                  ("message", "c2", 3), ("flush",)]
        if db.batch is not None:
            # The trace has a line per row of an executemany: runs of each.
            runs: list[list[object]] = []
            for line in statements:
                words = " ".join(line.split()[:3])
                if runs and runs[-1][0] == words:
                    runs[-1][1] = int(str(runs[-1][1])) + 1
                else:
                    runs.append([words, 1])
            assert runs == [
                ["BEGIN IMMEDIATE", 1], ["INSERT INTO messages", 5],
                ["INSERT INTO callback_outbox", 2], ["UPDATE conversations SET", 2],
                ["UPDATE conversation_members SET", 4], ["COMMIT", 1]]
        async with db.reader.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT c.b, c.last_seq, c.last_message_seq, c.last_msg_no, m.user_id,"
                " m.read_seq, m.read_msg_no FROM conversations c"
                " JOIN conversation_members m ON m.conversation_id = c.id"
                " WHERE c.sdkappid = :app ORDER BY c.b, m.user_id"), {"app": APP})).all()
        assert [tuple(row) for row in rows] == [
            ("bob", 4, 4, 4, "alice", 4, 4), ("bob", 4, 4, 4, "bob", 3, 3),
            ("carol", 3, 3, 3, "alice", 2, 2), ("carol", 3, 3, 3, "carol", 3, 3)]
        # The next batch starts from the counters the known way left.
        assert (await writer.submit(NewMessage(carol, "alice", "c3", "[]", ""))
                ).message.seq == 4
    finally:
        await writer.stop()
