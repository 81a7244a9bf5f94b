"""SQLite's search rows and FTS5 index written after the commits
(store/search_index.py): a message is found by search from its ack on,
before its text row is made and before the index holds it; both catch up
at start with what a crash left; recalls and edits of messages built or
not yet leave the rows and the index exactly the messages' (FTS5's own
integrity check against the content); a recall of the newest indexed row
does not give its id to a row the index would then never take, nor do the
newest messages deleted give their rowids to messages never built; a
writer that is never idle still builds between batches, a step waits
for more rows when they come fast (larger steps), and a step
asked a moment before it is due is still woken for; migrations 0021
and 0024 keep the index whole both ways. A step adds one segment and
merges nothing (migration 0029), the merges after it keep the segments
few and none runs in vain (FTS5's structure record read); two writers
of one file give distinct ids. Migration 0034 makes the index again
without positions, both ways, and search finds exactly the same before,
during and after the reindex. A writer never idle, at batches bigger
than a step's chunk, keeps the rows within about a batch and the merges
going (no level near the crisis merge); a big merge waits for the writer
to be idle a while, or for a level near the crisis."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.test_home_codes_migration import downgrade, upgrade
from tidings.domain.elements import EntryKind
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import NewChange, NewMessage
from tidings.domain.search import fts5_match, parse_query
from tidings.store import search_index
from tidings.store.engine import Database, migrate, open_database
from tidings.store.search import SearchScope, SearchStore, TextRows
from tidings.store.search_index import (
    BATCH,
    CHUNK,
    DELAY,
    IDLE_BIG,
    MERGE_PAGES,
    NEAR_CRISIS,
    PAUSE,
    SMALL_BATCH,
    SMALL_MERGE,
    USERMERGE,
    FtsIndex,
    backlog,
    index_step,
    merge_due,
    merge_plan,
    merge_step,
    mergeable,
    structure,
)
from tidings.store.writer import MessageWriter

APP = 1400000043
KEY = ConversationKey(APP, ConversationKind.C2C, "alice", "bob")


def send(client_msg_id: str, words: str) -> NewMessage:
    return NewMessage(KEY, "alice", client_msg_id,
                      orjson.dumps([{"type": "text", "text": words}]).decode(), "")


def writer_of(db: Database, index: FtsIndex | None = None) -> MessageWriter:
    """A writer with search's rows; ``index`` None: every step waits long
    (a step after a message then comes from the test, or at stop)."""
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.register(TextRows(db, index or FtsIndex(delay=3600, small=1_000_000)))
    writer.start()
    return writer


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    db = await opened(tmp_path)
    try:
        yield db
    finally:
        await db.dispose()


async def opened(tmp_path: Path) -> Database:
    db = open_database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await migrate(db)
    return db


async def scalar(db: Database, sql: str) -> int:
    async with db.reader.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def indexed_to(db: Database) -> int:
    return await scalar(db, "SELECT indexed_to FROM message_texts_fts_indexed")


async def in_index(db: Database, words: str) -> int:
    """Rows the FTS5 index itself matches (not search's tail)."""
    match = fts5_match(parse_query(words).indexed).replace("'", "''")
    return await scalar(db, "SELECT count(*) FROM message_texts_fts"
                            f" WHERE message_texts_fts MATCH '{match}'")


async def found(db: Database, words: str, viewer: str | None = "alice") -> list[int]:
    scope = SearchScope(APP, viewer, parse_query(words))
    return sorted(f.message.seq for f in await SearchStore(db).search(scope, 50))


async def built_to(db: Database) -> int:
    return await scalar(db, "SELECT built_to FROM message_texts_fts_built")


async def texts(db: Database) -> int:
    return await scalar(db, "SELECT count(*) FROM message_texts")


async def caught_up(db: Database) -> None:
    """Until both pointers reach the newest rows (the writer's idle step)."""
    for _ in range(500):
        if (await built_to(db) >= await scalar(db, "SELECT coalesce(max(rowid), 0) FROM messages")
                and await indexed_to(db) >= await scalar(
                    db, "SELECT coalesce(max(id), 0) FROM message_texts")):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the index did not catch up")


async def integrity(db: Database) -> None:
    """FTS5 checks its index against message_texts (rank 1: the content
    too); raises when they differ."""
    async with db.writer.begin() as conn:
        await conn.execute(text("INSERT INTO message_texts_fts (message_texts_fts, rank)"
                                " VALUES ('integrity-check', 1)"))


async def test_a_message_is_found_before_the_index_holds_it(db: Database) -> None:
    writer = writer_of(db)
    try:
        await writer.submit(send("old", "an older parrot"))
        await caught_up(db)  # the step at start, then this row's (at stop below)
        assert await texts(db) == 1
        done = await writer.submit(send("m1", "the parrot is resting"))
        # Acked, committed, its text row not made: the message waits.
        assert await texts(db) == 1
        assert await built_to(db) < await scalar(db, "SELECT max(rowid) FROM messages")
        assert await in_index(db, "parrot is resting") == 0
        assert await found(db, "parrot is resting") == [done.message.seq]
        # Index and tail together, newest first, neither twice; the whole
        # app's (its admin), and a word too short for the index (LIKE).
        assert await found(db, "parrot") == [1, 2]
        assert await found(db, "parrot", viewer=None) == [1, 2]
        assert await found(db, "is") == [2]
        assert await found(db, "is", viewer=None) == [2]
        assert await found(db, "parrot", viewer="carol") == []
    finally:
        await writer.stop()
    # A stop builds and indexes what waits.
    assert await texts(db) == 2
    assert await in_index(db, "parrot is resting") == 1
    assert await found(db, "parrot") == [1, 2]
    assert await found(db, "is", viewer=None) == [2]
    await integrity(db)


class Stalled(FtsIndex):
    """Steps until stalled (then the process dies before the next)."""

    stall = False

    def wait(self) -> float | None:
        return None if self.stall else super().wait()

    def overdue(self) -> bool:
        return not self.stall and super().overdue()


async def test_the_index_catches_up_at_start_after_a_crash(tmp_path: Path) -> None:
    db = await opened(tmp_path)
    index = Stalled()
    writer = writer_of(db, index)
    await writer.submit(send("first", "before the crash"))
    await caught_up(db)
    index.stall = True
    # More than a step's chunk, committed, then the process dies before any
    # step: its writer task is gone and nothing is flushed at a stop.
    sends = [writer.submit(send(f"m{i}", f"lost step {i:03d} zebra"))
             for i in range(CHUNK + 44)]
    await asyncio.gather(*sends)
    assert writer._task is not None
    writer._task.cancel()
    await db.dispose()

    db = await opened(tmp_path)
    try:
        assert await in_index(db, "zebra") == 0
        assert await texts(db) == 1  # the one before
        assert len(await found(db, "zebra")) == 50  # from the tail meanwhile
        assert await found(db, "step 123") == [125]
        writer = writer_of(db, FtsIndex())
        try:
            await caught_up(db)
            assert await texts(db) == CHUNK + 45
            assert await in_index(db, "zebra") == CHUNK + 44
            assert await in_index(db, "step 123") == 1
            await integrity(db)
            # New rows go above the watermark, and are indexed in turn.
            after = await writer.submit(send("after", "after the zebra"))
            assert await found(db, "after the zebra") == [after.message.seq]
        finally:
            await writer.stop()
        assert await in_index(db, "after the zebra") == 1
        await integrity(db)
    finally:
        await db.dispose()


async def test_recalls_and_edits_keep_the_index_the_tables(db: Database) -> None:
    writer = writer_of(db)
    try:
        for i in range(4):
            await writer.submit(send(f"i{i}", f"indexed text {i}"))
        await writer.stop()  # indexed
        writer = writer_of(db)
        await caught_up(db)
        for i in range(4, 8):
            await writer.submit(send(f"t{i}", f"waiting text {i}"))
        assert await in_index(db, "waiting text") == 0
        assert await texts(db) == 4
        # A recall and an edit of built and indexed messages, and of waiting
        # ones; an edit again of a row the first edit wrote (built, not
        # indexed yet).
        for target, kind in ((1, EntryKind.RECALL), (2, EntryKind.EDIT),
                             (5, EntryKind.RECALL), (6, EntryKind.EDIT), (2, EntryKind.EDIT)):
            words = None if kind is EntryKind.RECALL else orjson.dumps(
                [{"type": "text", "text": f"edited text {target}"}]).decode()
            await writer.submit(NewChange(KEY, target, kind, "user:alice", elements=words,
                                          sender="alice"))
        assert await texts(db) == 3  # 1 went, 2 is its edit's row once
        assert await found(db, "text") == [2, 3, 4, 6, 7, 8]
        assert await found(db, "edited") == [2, 6]
        assert await found(db, "edited", viewer=None) == [2, 6]
        assert await found(db, "indexed text 1") == []
        assert await found(db, "waiting text 5") == []
    finally:
        await writer.stop()
    assert await texts(db) == 6
    assert await in_index(db, "edited") == 2
    assert await found(db, "waiting text 5") == []
    assert await found(db, "text") == [2, 3, 4, 6, 7, 8]
    await integrity(db)


async def test_a_new_message_after_the_newest_indexed_one_is_recalled(db: Database) -> None:
    writer = writer_of(db)
    try:
        await writer.submit(send("a", "first words"))
        await writer.submit(send("b", "newest words"))
    finally:
        await writer.stop()
    newest = await scalar(db, "SELECT max(id) FROM message_texts")
    assert await indexed_to(db) == newest
    writer = writer_of(db)
    try:
        await writer.submit(NewChange(KEY, 2, EntryKind.RECALL, "user:alice", sender="alice"))
        again = await writer.submit(send("c", "later words"))
    finally:
        await writer.stop()
    # The recall deleted the newest indexed text (from the index too); the
    # new one is indexed past it, named by its message's rowid.
    assert await scalar(db, "SELECT max(id) FROM message_texts") == await scalar(
        db, "SELECT max(rowid) FROM messages") > newest
    assert await in_index(db, "later words") == 1
    assert await found(db, "words") == [1, again.message.seq]
    await integrity(db)


async def test_rowids_given_again_after_the_newest_messages_are_deleted_are_indexed(
        db: Database) -> None:
    writer = writer_of(db)
    try:
        for i in range(3):
            await writer.submit(send(f"m{i}", f"kept words {i}"))
    finally:
        await writer.stop()
    assert await built_to(db) == 3
    # As a group dismissed or a whole conversation expired would (the texts
    # go with their messages: migration 0031's trigger).
    async with db.writer.begin() as conn:
        await conn.execute(text("DELETE FROM messages WHERE seq >= 2"))
    assert await built_to(db) == 1
    writer = writer_of(db)
    try:
        again = await writer.submit(send("again", "later words"))
        # SQLite gave it a rowid the pointer had passed before the delete.
        assert await scalar(db, "SELECT max(rowid) FROM messages") == 2
        assert await found(db, "words") == [1, again.message.seq]
    finally:
        await writer.stop()
    assert await in_index(db, "later words") == 1
    assert await found(db, "words") == [1, again.message.seq]
    await integrity(db)


class Counting(FtsIndex):
    """Never due when idle; what waits, after each batch."""

    def __init__(self) -> None:
        super().__init__(batch=1_000_000, delay=3600, small=1_000_000)
        self.seen: list[int] = []

    def written(self, n: int) -> None:
        super().written(n)
        if self._waiting is not None:
            self.seen.append(self._waiting)


async def test_a_writer_never_idle_builds_between_batches(db: Database) -> None:
    index = Counting()
    writer = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    writer.register(TextRows(db, index))
    writer.start()
    try:
        await writer.submit(send("first", "first"))
        await caught_up(db)
        index.seen.clear()
        await asyncio.gather(*(writer.submit(send(f"m{i}", f"busy {i}")) for i in range(600)))
        # Past a chunk waiting, a step came between batches (the writer
        # was never idle): what waits stays under a chunk and a batch.
        assert 0 < max(index.seen) <= CHUNK + 100, index.seen
        assert len(await found(db, "busy")) == 50
    finally:
        await writer.stop()
    assert await texts(db) == 601
    await integrity(db)


async def test_steps_grow_with_the_rate(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """``SMALL_BATCH`` rows make a step due once the oldest has waited
    ``PAUSE`` (at 500 msg/s, 64 rows take 128 ms: due as they come, as
    before); rows coming faster wait for more, ``BATCH`` at once (a step
    and its merges are dearer small); fewer wait ``DELAY``."""
    fast, slow = FtsIndex(), FtsIndex()
    for index in (fast, slow):
        await db.run_write(index.run, synced=False)  # the first look: nothing waits
    clock = [100.0]
    with monkeypatch.context() as patched:  # no await inside: the loop keeps its clock
        patched.setattr(search_index.time, "monotonic", lambda: clock[0])
        slow.written(1)
        slow.written(SMALL_BATCH - 2)
        assert slow.wait() == DELAY
        clock[0] += PAUSE
        slow.written(1)  # the oldest waited PAUSE already
        assert slow.wait() == 0.0
        fast.written(SMALL_BATCH)
        clock[0] += PAUSE / 2
        assert fast.wait() == pytest.approx(PAUSE / 2)
        fast.written(BATCH - SMALL_BATCH - 1)
        assert fast.wait() == pytest.approx(PAUSE / 2)
        fast.written(1)
        assert fast.wait() == 0.0


async def test_migration_0021_keeps_the_index_whole_both_ways(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    row = ("INSERT INTO message_texts (conversation_id, seq, sdkappid, sender, created_at,"
           " body) VALUES (1, :seq, 1, 'ann', 1, :body)")

    async def matches(conn: AsyncConnection, words: str) -> int:
        return int((await conn.execute(text(
            "SELECT count(*) FROM message_texts_fts WHERE message_texts_fts MATCH :m"),
            {"m": fts5_match(parse_query(words).indexed)})).scalar_one())

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0020")
            await conn.execute(text(row), [{"seq": 1, "body": "kept by the trigger"}])
        async with engine.begin() as conn:
            # Not to 0030's: its rows here have no messages (0030 keys them by theirs).
            await conn.run_sync(upgrade, "0029")
            # What the trigger indexed is below the watermark; new rows are not indexed.
            assert (await conn.execute(text(
                "SELECT indexed_to FROM message_texts_fts_indexed"))).scalar_one() == 1
            await conn.execute(text(row), [{"seq": 2, "body": "not yet in the index"}])
            assert await matches(conn, "not yet") == 0
        async with engine.begin() as conn:
            await conn.run_sync(downgrade, "0020")
            # The waiting row went in, and the insert trigger is back.
            assert await matches(conn, "not yet") == 1
            await conn.execute(text(row), [{"seq": 3, "body": "by the trigger again"}])
            assert await matches(conn, "trigger") == 2
            await conn.execute(text("INSERT INTO message_texts_fts (message_texts_fts, rank)"
                                    " VALUES ('integrity-check', 1)"))
    finally:
        await engine.dispose()


async def test_migration_0024_builds_what_waits_both_ways(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    message = ("INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
               " elements, created_at) VALUES (1, :seq, 1, 'ann', :seq, :elements, 1)")

    def elements(words: str) -> str:
        return orjson.dumps([{"type": "text", "text": words}]).decode()

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0023")
            await conn.execute(text("INSERT INTO conversations (id, sdkappid, kind, a, b,"
                                    " created_at) VALUES (1, 1, 'c2c', 'ann', 'bob', 1)"))
            await conn.execute(text(message), {"seq": 1, "elements": elements("Made Before")})
            # Its id apart from its message's rowid (1), as ids were before
            # 0030: the pending message's rowid (2), which today's step
            # would give as its text's id.
            await conn.execute(text(
                "INSERT INTO message_texts (id, conversation_id, seq, sdkappid, sender,"
                " created_at, body) VALUES (2, 1, 1, 1, 'ann', 1, 'made before')"))
        async with engine.begin() as conn:
            # Not to 0030's, whose way down indexes every row (its rebuild).
            await conn.run_sync(upgrade, "0029")
            # Every message so far has its row; a new one waits for the step.
            assert (await conn.execute(text(
                "SELECT built_to FROM message_texts_fts_built"))).scalar_one() == 1
            await conn.execute(text(message), {"seq": 2, "elements": elements("Made After")})
        async with engine.begin() as conn:
            await conn.run_sync(downgrade, "0023")
            rows = (await conn.execute(text(
                "SELECT seq, body, id FROM message_texts ORDER BY seq"))).all()
            assert [tuple(r) for r in rows] == [(1, "made before", 2), (2, "made after", 3)]
            # Both above 0021's watermark (this test's first row too): its
            # step indexes them.
            assert (await conn.execute(text(
                "SELECT count(*) FROM message_texts WHERE id > (SELECT indexed_to"
                " FROM message_texts_fts_indexed)"))).scalar_one() == 2
    finally:
        await engine.dispose()


def test_a_step_asked_a_moment_early_is_still_woken_for(tmp_path: Path) -> None:
    """uvloop (the server's loop) fires a timer up to a millisecond early:
    the step is then still a fraction of a millisecond from due, and the
    writer must arm a new wake-up rather than take the spent one for armed
    (it did: the step waited for the next message; test_crash's step then
    did not catch up in 30 s)."""
    import uvloop

    async def main() -> None:
        db = await opened(tmp_path)
        writer = writer_of(db, FtsIndex(delay=0.03))
        try:
            for i in range(40):
                await writer.submit(send(f"m{i}", f"word {i}"))
                await caught_up(db)
        finally:
            await writer.stop()
            await db.dispose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


async def segments(db: Database) -> int:
    """The FTS5 index's segments (each has its first leaf in ``_idx``)."""
    return await scalar(db, "SELECT count(DISTINCT segid) FROM message_texts_fts_idx")


async def test_steps_do_not_merge_and_the_segments_stay_few(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """FTS5's own merges, inside a step's insert, made its long steps
    (migration 0029 turns them off): each step adds one segment, and the
    merges of their own after the steps keep the count low (without them
    a level would fill to FTS5's crisis merge, 16). The writer counts as
    idle long enough for big merges too (``IDLE_BIG``: the next test)."""
    monkeypatch.setattr(search_index, "IDLE_BIG", 0.0)
    index = FtsIndex(delay=3600)
    async with db.writer.begin() as conn:
        await conn.execute(text("INSERT INTO conversations (id, sdkappid, kind, a, b,"
                                " created_at) VALUES (1, 1, 'c2c', 'ann', 'bob', 1)"))
    most = tried = 0
    for step in range(120):
        async with db.writer.begin() as conn:
            await conn.execute(text(
                "INSERT INTO message_texts (id, conversation_id, seq, sdkappid, sender,"
                " created_at, body) VALUES (:id, 1, :id, 1, 'ann', 1, :body)"),
                [{"id": step * 64 + i + 1, "body": f"words {step} and {i} of zebra{i % 7}"}
                 for i in range(64)])
        index.written(64)
        before = await segments(db)
        await db.run_write(index.run, synced=False)  # the rows (a merge waits)
        assert await segments(db) == before + 1, step
        while index.wait() == 0:
            await db.run_write(index.run, synced=False)
            tried += 1
        most = max(most, await segments(db))
    assert index.merges > 0
    # Only merges that find work run: FTS5's structure record says when one
    # would (before, one in vain after every step: 3 in 4 of them add a
    # segment to a level still short of usermerge, and each run's last).
    assert tried == index.merges, (tried, index.merges)
    # A level is merged at 4 segments (FTS5's usermerge): at most ~3 a
    # level, 4 levels for 120 steps. With no merges of their own the
    # levels fill to the crisis merge's 16, and the count passes 20 here
    # (with FTS5's automerge, 18).
    assert most <= 12, most
    assert await in_index(db, "zebra3") == 120 * 9
    await integrity(db)


async def test_a_step_not_feeding_the_index_builds_the_rows_and_merges_nothing(
        db: Database) -> None:
    """``search_index`` none: the steps make the text rows (and counts) but
    put nothing into FTS5, move no watermark, run no merge, and are not
    due again for the rows left above the watermark (``backlog``); search
    finds every message (store/search.py's ``index`` off)."""
    index = FtsIndex(delay=3600, feed=False)
    writer = writer_of(db, index)
    try:
        for step in range(6):
            for i in range(CHUNK):
                await writer.submit(send(f"m{step}-{i}", f"words {step} and {i} of zebra{i % 7}"))
            await db.run_write(index.run, synced=False)
            assert index.wait() != 0, step  # nothing left that it would do
    finally:
        await writer.stop()
    assert await built_to(db) == 6 * CHUNK
    assert await texts(db) == 6 * CHUNK
    assert await indexed_to(db) == 0
    assert await segments(db) == 0
    assert index.merges == 0
    scope = SearchScope(APP, "alice", parse_query("zebra3"))
    assert len(await SearchStore(db, index=False).search(scope, 200)) == 200
    assert await in_index(db, "zebra3") == 0


async def test_two_writers_of_one_file_give_distinct_ids(db: Database) -> None:
    """Each process has its own FtsIndex: the ids of new text rows must
    come from the file, not from a count in memory (one writer's rows took
    the ids the other then gave again: its step failed on the key)."""
    first, second = FtsIndex(delay=3600), FtsIndex(delay=3600)
    for n, index in enumerate((first, second, first)):
        writer = writer_of(db, index)
        try:
            for i in range(3):
                await writer.submit(send(f"w{n}-{i}", f"round{n} words {i}"))
        finally:
            await writer.stop()  # builds and indexes what waits
    assert await texts(db) == 9
    assert await in_index(db, "round2 words") == 3
    assert await found(db, "words") == list(range(1, 10))
    await integrity(db)


async def test_migration_0029_sets_the_merges_both_ways(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    config = "SELECT v FROM message_texts_fts_config WHERE k = :k"
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "head")
            assert (await conn.execute(text(config), {"k": "automerge"})).scalar_one() == 0
            assert (await conn.execute(text(config), {"k": "crisismerge"})).scalar_one() == 16
        async with engine.begin() as conn:
            await conn.run_sync(downgrade, "0028")
            assert (await conn.execute(text(config), {"k": "automerge"})).scalar_one() == 4
    finally:
        await engine.dispose()


def test_the_structure_record_says_what_a_merge_finds(tmp_path: Path) -> None:
    """``merge_due`` against FTS5 itself, step by step on a trigram table of
    the server's settings: a merge it says is due finds work, one it says
    is not finds none (the record's levels read right)."""
    conn = sqlite3.connect(tmp_path / "fts.db", isolation_level=None)
    conn.execute("CREATE VIRTUAL TABLE message_texts_fts USING fts5(body,"
                 " tokenize='trigram case_sensitive 1')")
    conn.execute("INSERT INTO message_texts_fts (message_texts_fts, rank) VALUES ('automerge', 0)")
    cursor = conn.cursor()
    said = {True: 0, False: 0}
    for step in range(100):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO message_texts_fts (rowid, body) VALUES (?, ?)",
                         [(step * 64 + i + 1, f"w{step * 64 + i} zebra{i % 7} {'x' * (i % 5)}")
                          for i in range(64)])
        due = merge_due(cursor)
        conn.execute("COMMIT")
        while True:
            conn.execute("BEGIN IMMEDIATE")
            found = merge_step(cursor, MERGE_PAGES)
            assert found == due, step
            said[due] += 1
            due = merge_due(cursor)
            conn.execute("COMMIT")
            if not found:
                break
    assert said[True] > 15 and said[False] == 100, said
    conn.close()


def test_the_structure_record_read_past_varints_of_two_bytes() -> None:
    # Cookie; 2 levels, 4 segments, write counter 300; level 0: no merge, 2
    # segments (200, 1..130) and (201, 1..1); level 1: no merge, 2 segments
    # (5, 1..9000) and (6, 1..1). Only a level read whole reaches level 1.
    record = bytes([0, 0, 0, 1, 2, 4, 0x82, 0x2C,
                    0, 2, 0x81, 0x48, 1, 0x81, 0x02, 0x81, 0x49, 1, 1,
                    0, 2, 5, 1, 0xC6, 0x28, 6, 1, 1])
    assert not mergeable(record, 3)
    assert mergeable(record, 2)
    third = record[:19] + bytes([0, 3, 5, 1, 0xC6, 0x28, 6, 1, 1, 7, 1, 1])
    assert mergeable(third, 3)  # level 1 with a third segment


def test_a_record_of_another_layout_says_merge() -> None:
    assert mergeable(b"\x00\x00\x00\x01\xff\x00\x00\x01\x01\x01\x00\x00\x01\x01\x01\x01", 4)
    assert mergeable(b"\x00\x00\x00\x01\x02", 4)  # cut short
    assert not mergeable(b"\x00\x00\x00\x01\x00\x00\x00", 4)  # empty


class Watched(FtsIndex):
    """What waits after each step, and the most segments a level held."""

    def __init__(self) -> None:
        super().__init__()
        self.left: list[int] = []
        self.most = 0

    def run(self, conn: Any) -> None:
        super().run(conn)
        cursor = conn.connection.cursor()
        try:
            self.left.append(backlog(cursor))
            cursor.execute("SELECT block FROM message_texts_fts_data WHERE id = 10")
            row = cursor.fetchone()
            levels = structure(bytes(row[0])) if row else []
            assert levels is not None
            self.most = max([self.most, *(len(pages) for _, pages in levels)])
        finally:
            cursor.close()


async def test_a_writer_never_idle_keeps_up_and_merges(db: Database) -> None:
    """Batches of 1,000 (over ``CHUNK``) with requests always waiting: a
    step of ``CHUNK`` a batch fell ~500 rows a batch behind and no merge
    ran (the levels filled to FTS5's crisis merge, 16): the step takes
    what came, and merges alternate with it."""
    index = Watched()
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.register(TextRows(db, index))
    writer.start()
    try:
        await writer.submit(send("first", "first"))
        await caught_up(db)
        index.left.clear()
        index.most = 0
        busy = [writer.submit(send(f"m{i}", f"busy {i} of the burst")) for i in range(16_000)]
        await asyncio.gather(*busy)
        during = list(index.left)  # the steps between batches (and any after)
        assert len(during) >= 10, during
        # Within about one batch of the messages after every step.
        assert max(during) <= 1000, during
        assert index.merges > 0
        assert index.most < NEAR_CRISIS, index.most
    finally:
        await writer.stop()
    assert await texts(db) == 16_001
    assert await in_index(db, "burst") == 16_000
    await integrity(db)


async def test_a_big_merge_waits_for_an_idle_writer(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge whose segments hold over ``SMALL_MERGE`` pages (one call
    copies a term's whole list of the level: ~20 ms for a big level) is not
    due while messages come (at 500 msg/s it would come between two of
    them), nor overdue between batches; it is once the writer has been
    idle ``IDLE_BIG``; small merges run as before."""
    async with db.writer.begin() as conn:
        await conn.execute(text("INSERT INTO conversations (id, sdkappid, kind, a, b,"
                                " created_at) VALUES (1, 1, 'c2c', 'ann', 'bob', 1)"))
    rows = 3000
    for step in range(USERMERGE):  # each a segment of level 0, as a step makes one
        async with db.writer.begin() as conn:
            await conn.execute(text(
                "INSERT INTO message_texts (id, conversation_id, seq, sdkappid, sender,"
                " created_at, body) VALUES (:id, 1, :id, 1, 'ann', 1, :body)"),
                [{"id": step * rows + i + 1, "body": f"w{step}x{i} zebra{i % 97} {i * 7919}"}
                 for i in range(rows)])
            await conn.execute(text(
                "INSERT INTO message_texts_fts (rowid, body) SELECT id, body FROM message_texts"
                " WHERE id > (SELECT indexed_to FROM message_texts_fts_indexed)"))
            await conn.execute(text("UPDATE message_texts_fts_indexed SET indexed_to ="
                                    " (SELECT max(id) FROM message_texts)"))
    index = FtsIndex()
    clock = [100.0]
    monkeypatch.setattr(search_index.time, "monotonic", lambda: clock[0])
    await db.run_write(index.run, synced=False)  # the first look: the merge is seen
    assert index.merges == 0
    async with db.reader.connect() as conn:
        record = (await conn.execute(text(
            "SELECT block FROM message_texts_fts_data WHERE id = 10"))).scalar_one()
    plan = merge_plan(bytes(record), USERMERGE)
    assert plan is not None and plan[0] > SMALL_MERGE and plan[1] == USERMERGE, plan
    # A message just written: the big merge waits, and not between batches.
    index.written(1)
    assert index.wait() == pytest.approx(IDLE_BIG)
    assert not index.overdue()
    clock[0] += IDLE_BIG / 2
    assert index.wait() == pytest.approx(IDLE_BIG / 2)
    clock[0] += IDLE_BIG / 2
    assert index.wait() == 0.0
    await db.run_write(index.run, synced=False)
    assert index.merges == 1
    assert await in_index(db, "zebra42") == USERMERGE * 31
    await integrity(db)


def test_the_structure_record_says_what_merge_takes_first() -> None:
    """``merge_plan`` as FTS5 chooses: the level with the most segments
    (the lowest of equals), or the first with a merge under way if it
    takes more; its input's leaf pages; the most segments of a level."""
    def record(*levels: tuple[int, list[int]]) -> bytes:
        out = [len(levels), sum(len(p) for _, p in levels), 0]
        for merging, pages in levels:
            out += [merging, len(pages)]
            for n, leaves in enumerate(pages):
                out += [n + 1, 1, leaves]
        assert all(v < 128 for v in out)  # one byte each
        return bytes([0, 0, 0, 1, *out])

    assert structure(record((0, [2, 3]))) == [(0, [2, 3])]
    assert merge_plan(record((0, [2, 3, 4])), USERMERGE) is None
    assert merge_plan(record((0, [1, 1, 1, 1]), (0, [90, 90, 90, 90])), USERMERGE) == (4, 4, 360)
    assert merge_plan(record((0, [1, 1, 1]), (0, [90] * 5)), USERMERGE) == (450, 5, 0)
    # A merge under way of 4 inputs, below a level of 5: the level of 5.
    assert merge_plan(record((0, [1] * 5), (4, [30] * 6), (0, [99])), USERMERGE) == (5, 6, 120)
    # Of 4, above a level of 3: the merge under way, its first 4 inputs.
    assert merge_plan(record((0, [1] * 3), (4, [30] * 6), (0, [99])), USERMERGE) == (120, 6, 0)
    # Of 2, above a level of 3: the level of 3, under usermerge: no work
    # (SQLite 3.40's fts5IndexMerge).
    assert merge_plan(record((0, [1] * 3), (2, [30] * 2), (0, [99])), USERMERGE) is None
    assert merge_plan(record((0, [1] * 2), (3, [30] * 3), (0, [99])), USERMERGE) == (90, 3, 0)


async def test_a_small_merge_before_a_big_one_writes_a_page_a_call(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """FTS5 goes on to the next level with the pages a merge that ends a
    level leaves: with a big level waiting (``merge_plan``'s third figure)
    a small merge of 16 pages took one term of it each time a lower level
    was done (~9 ms of CPU every 0.5 s at 500 msg/s after a burst,
    bench/journal/perf-fts6.md). One page a call: the level's last leaf
    ends the call."""
    pages: list[int] = []
    plans = iter([(10, 5, 500), (10, 5, 0), None])
    monkeypatch.setattr(search_index, "merge_plan_of", lambda cursor: next(plans))
    monkeypatch.setattr(search_index, "merge_step",
                        lambda cursor, n: pages.append(n) is None)
    index = FtsIndex()
    await db.run_write(index.run, synced=False)  # the first look: a small merge due
    index.written(1)  # a message just written: no idle writer
    assert index.wait() == 0.0
    await db.run_write(index.run, synced=False)
    await db.run_write(index.run, synced=False)
    assert pages == [1, MERGE_PAGES]
    assert index.wait() is not None  # the message's row waits
    assert index.merges == 2


# Texts holding a word's trigrams apart, or not; CJK; a combining mark.
APART = ("abcxbcd here", "abcd there", "aaaa", "xaaax", "我们去北京吃烤鸭", "北京吃了 京吃烤肉",
         "cafe\u0301 au lait")
# Word -> the seqs holding it (APART's i-th message is seq i + 1).
APART_FOUND = {"abcd": [2], "bcd": [1, 2], "aaaa": [3], "aaa": [3, 4], "aaaaa": [],
               "北京吃烤": [5], "北京吃": [5, 6], "去北京吃烤鸭": [5], "京吃烤": [5, 6],
               "cafe\u0301": [7], "café": [], "ABCD here": [2], "abcd XBCD": [],
               "BCD here": [1, 2]}


async def apart_found(db: Database) -> None:
    """Every APART_FOUND word found exactly, by a user and the whole app."""
    for words, seqs in APART_FOUND.items():
        assert await found(db, words) == seqs, words
        assert await found(db, words, viewer=None) == seqs, words


async def reindexed(db: Database) -> None:
    """The step's index part, two rows at a time, until the watermark is at
    the newest row: search finds the same after each."""
    while True:
        async with db.writer.begin() as conn:
            n = await conn.run_sync(lambda c: index_step(c.connection.cursor(), 2))
        if not n:
            return
        await apart_found(db)


async def test_migration_0034_reindexes_without_positions_both_ways(tmp_path: Path) -> None:
    db = await opened(tmp_path)
    try:
        writer = writer_of(db)
        for i, words in enumerate(APART):
            await writer.submit(send(f"m{i}", words))
        await writer.stop()  # built and indexed
        assert await indexed_to(db) == len(APART)
        await apart_found(db)
        # Candidates: both rows holding "abc" and "bcd"; the LIKE takes one.
        assert await in_index(db, "abcd") == 2
        async with db.writer.begin() as conn:
            await conn.run_sync(downgrade, "0033")
        sql = await scalar_text(db, "SELECT sql FROM sqlite_master"
                                    " WHERE name = 'message_texts_fts'")
        assert "detail" not in sql and "trigram case_sensitive 1" in sql
        # Made again, empty: every row above the watermark (LIKE), then the steps.
        assert await indexed_to(db) == 0 and await in_index(db, "abcd") == 0
        await apart_found(db)
        await reindexed(db)
        assert await scalar(db, "SELECT count(*) FROM message_texts_fts"
                                " WHERE message_texts_fts MATCH '\"abcd\"'") == 1
        await integrity(db)

        await migrate(db)  # up again: what a server does at start
        sql = await scalar_text(db, "SELECT sql FROM sqlite_master"
                                    " WHERE name = 'message_texts_fts'")
        assert "detail=none" in sql and "trigram case_sensitive 1" in sql
        assert await scalar(db, "SELECT v FROM message_texts_fts_config"
                                " WHERE k = 'automerge'") == 0
        assert await scalar(db, "SELECT v FROM message_texts_fts_config"
                                " WHERE k = 'crisismerge'") == 16
        assert await indexed_to(db) == 0 and await in_index(db, "abcd") == 0
        await apart_found(db)
        await reindexed(db)
        assert await in_index(db, "abcd") == 2
        await integrity(db)
        # A phrase is refused by an index without positions (why search asks
        # for trigrams).
        with pytest.raises(DBAPIError, match="phrase queries are not supported"):
            await scalar(db, "SELECT count(*) FROM message_texts_fts"
                             " WHERE message_texts_fts MATCH '\"abcd\"'")
        # The writer's step indexes new rows in turn, edits and recalls too.
        writer = writer_of(db)
        try:
            done = await writer.submit(send("new", "abcd again"))
            assert await found(db, "abcd") == [2, done.message.seq]
        finally:
            await writer.stop()
        assert await in_index(db, "abcd") == 3
        assert await found(db, "abcd") == [2, len(APART) + 1]
        await integrity(db)
    finally:
        await db.dispose()


async def scalar_text(db: Database, sql: str) -> str:
    async with db.reader.connect() as conn:
        return str((await conn.execute(text(sql))).scalar_one())
