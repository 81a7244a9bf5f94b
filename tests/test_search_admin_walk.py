"""An admin's whole-app search by time. On PostgreSQL without an index of
the texts by app and time (revision 0023): it walks ``messages``'
``ix_messages_app_time`` and finds each text by its key; on SQLite (revision
0033) it walks the texts' own ``ix_message_texts_app_time`` (the search
step's: messages have no index by app and time there), one conversation's
by its messages' key. Its pages, on both backends, are exactly
what reading every text of the app would answer (imports with their own
older times, an edit keeping its message's time, a recall, another app
with the same words), through every filter and the cursor; on SQLite the
plan reads no table whole, nor does the FTS5 way's tail for a user, nor
the read of the messages whose search rows are not made yet. The
migrations (0023, 0033) both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, Select, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import database_url
from tests.pg import Cluster
from tests.test_home_codes_migration import downgrade, upgrade
from tidings.domain.elements import EntryKind, ImportMode, MessageState
from tidings.domain.ids import ConversationKey, c2c_key
from tidings.domain.records import NewChange, NewMessage
from tidings.domain.search import Cursor, parse_query
from tidings.store.engine import Database
from tidings.store.search import SearchScope, SearchStore, TextRows
from tidings.store.writer import MessageWriter

APP, OTHER = 1400000051, 1400000052
PAIRS = (("ann", "bob"), ("ann", "cy"), ("bob", "cy"))
Row = tuple[int, int, int]  # (time, conversation, seq)


def message(key: ConversationKey, sender: str, n: int, words: str,
            time: int | None = None) -> NewMessage:
    return NewMessage(key, sender, f"m{n}", orjson.dumps([{"type": "text", "text": words}])
                      .decode(), "", time=time,
                      imported=ImportMode.NONE if time is None else ImportMode.HISTORY)


async def fill(db: Database) -> None:
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.register(TextRows(db))
    writer.start()
    try:
        for n in range(24):
            a, b = PAIRS[n % 3]
            sender = a if n % 2 else b
            words = f"report {n} {'budget' if n % 4 == 0 else 'lunch'} 北"
            # Every fifth an import from long ago: time order is not id order.
            old = 1_000_000 + n if n % 5 == 0 else None
            await writer.submit(message(c2c_key(APP, a, b), sender, n, words, old))
            await writer.submit(message(c2c_key(OTHER, a, b), sender, n, words, old))
        key = c2c_key(APP, "ann", "bob")
        new_words = orjson.dumps([{"type": "text", "text": "edited report 北"}]).decode()
        await writer.submit(NewChange(key, 2, EntryKind.EDIT, "admin:t", elements=new_words))
        await writer.submit(NewChange(key, 3, EntryKind.RECALL, "admin:t"))
    finally:
        await writer.stop()


async def every_text(db: Database, words: str, sender: str | None = None) -> list[Row]:
    """The oracle: every text of the app read whole, matched in Python."""
    async with db.reader.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT m.created_at, m.conversation_id, m.seq, m.sender, t.body"
            " FROM message_texts t JOIN messages m ON m.conversation_id = t.conversation_id"
            " AND m.seq = t.seq WHERE m.sdkappid = :app AND m.state != :recalled"),
            {"app": APP, "recalled": int(MessageState.RECALLED)})).all()
    return sorted(((int(r[0]), int(r[1]), int(r[2])) for r in rows
                   if all(w in r[4] for w in words.lower().split())
                   and sender in (None, r[3])), reverse=True)


async def pages(store: SearchStore, words: str, limit: int, **narrow: object) -> list[Row]:
    """Every page of the admin's search, cursor after cursor."""
    got: list[Row] = []
    cursor: Cursor | None = None
    while True:
        scope = SearchScope(APP, None, parse_query(words), cursor=cursor, **narrow)  # type: ignore[arg-type]
        page = await store.search(scope, limit)
        got += [(f.message.created_at, f.message.conversation_id, f.message.seq) for f in page]
        if len(page) < limit:
            return got
        cursor = page[-1].cursor


async def test_whole_app_pages_by_time_through_messages(db: Database) -> None:
    await fill(db)
    # A probe of 1: every word is "common", so SQLite walks by time too.
    for store in (SearchStore(db), SearchStore(db, fts_probe=1)):
        for words in ("report", "budget", "北", "report lunch", "edited", "nothing here"):
            want = await every_text(db, words)
            assert await pages(store, words, 4) == want, words
            assert await pages(store, words, 50) == want, words
        report = await every_text(db, "report")
        assert len(report) == 23  # one recalled; the edited one by its new text
        middle = sorted(r[0] for r in report)[5:15]
        since, until = middle[0], middle[-1]
        assert await pages(store, "report", 3, since=since, until=until) == [
            r for r in report if since <= r[0] < until]
        assert await pages(store, "report", 3, sender="cy") == await every_text(
            db, "report", sender="cy")
        conversation = report[0][1]
        assert await pages(store, "report", 3, conversation_id=conversation) == [
            r for r in report if r[1] == conversation]


async def sqlite_plan(db: Database, stmt: Select[Any]) -> list[str]:
    """SQLite's plan with bound parameters, as the server runs it."""
    compiled = stmt.compile(dialect=db.reader.dialect)
    params = tuple(compiled.params[k] for k in compiled.positiontup or ())
    async with db.reader.connect() as conn:
        rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params)
        return [str(r["detail"]) for r in rows.mappings()]


# SQLite only: PostgreSQL's plan follows its statistics (its answers are
# tested above; bench/README.md has its plans at 125,000 messages).
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_whole_app_walk_reads_no_table_whole(db: Database) -> None:
    await fill(db)
    store = SearchStore(db)
    lunch = parse_query("lunch")
    # The texts newest first by their own index (migration 0033), nothing else.
    for scope in (SearchScope(APP, None, lunch), SearchScope(APP, None, lunch, sender="cy"),
                  SearchScope(APP, None, lunch, since=1, until=2**40,
                              cursor=Cursor(2**40, 1, 5))):
        plan = await sqlite_plan(db, store.statement(scope, 21, fts=False))
        assert plan[0].startswith(
            "SEARCH message_texts USING INDEX ix_message_texts_app_time (sdkappid=?"), plan
        assert not any("messages" in step.split() for step in plan), plan
        assert not any(step.startswith("SCAN") for step in plan), plan
    # One conversation: its messages by their key, each text by its id (its
    # message's rowid, migration 0030: its only key), not the app's texts.
    plan = await sqlite_plan(db, store.statement(
        SearchScope(APP, None, lunch, conversation_id=1), 21, fts=False))
    assert plan[0].startswith("SEARCH messages USING INDEX sqlite_autoindex_messages_1"
                              " (conversation_id=?)"), plan
    assert "SEARCH message_texts USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    assert not any(step.startswith("SCAN") for step in plan), plan


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_users_short_words_read_their_conversations_messages(db: Database) -> None:
    """Words too short for the index: the user's conversations' messages by
    their key, each text by its id (texts have no index by conversation
    on SQLite), not the app's messages by time: nothing read whole."""
    await fill(db)
    plan = await sqlite_plan(db, SearchStore(db).statement(
        SearchScope(APP, "ann", parse_query("lu")), 21, fts=False))
    assert plan[0].startswith("SEARCH conversation_members"), plan
    by_key = "SEARCH messages USING COVERING INDEX sqlite_autoindex_messages_1 (conversation_id=?)"
    assert by_key in plan, plan
    assert "SEARCH message_texts USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    assert not any(step.startswith("SCAN") and "USING" not in step for step in plan), plan


async def test_migration_0023_both_ways(backend: str, pg_cluster: Cluster | None,
                                        tmp_path: Path) -> None:
    url = (database_url(backend, pg_cluster, empty=True)
           or f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    engine = create_async_engine(url)

    def indexes(conn: Connection) -> set[str]:
        return {i["name"] for i in inspect(conn).get_indexes("message_texts")
                if i["name"] is not None}

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0022")
            assert "ix_message_texts_app_time" in await conn.run_sync(indexes)
            await conn.run_sync(upgrade, "0023")
            assert "ix_message_texts_app_time" not in await conn.run_sync(indexes)
            await conn.run_sync(downgrade, "0022")
            assert "ix_message_texts_app_time" in await conn.run_sync(indexes)
    finally:
        await engine.dispose()


async def test_migration_0033_both_ways(backend: str, pg_cluster: Cluster | None,
                                        tmp_path: Path) -> None:
    """SQLite: the texts' index by app and time made, messages' dropped, and
    back; PostgreSQL: neither changes (messages' kept, the texts' not made)."""
    url = (database_url(backend, pg_cluster, empty=True)
           or f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    engine = create_async_engine(url)

    def indexes(conn: Connection) -> set[str]:
        return {str(i["name"]) for table in ("messages", "message_texts")
                for i in inspect(conn).get_indexes(table)} & {
            "ix_messages_app_time", "ix_message_texts_app_time"}

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0032")
            assert await conn.run_sync(indexes) == {"ix_messages_app_time"}
            await conn.run_sync(upgrade, "0033")
            assert await conn.run_sync(indexes) == (
                {"ix_message_texts_app_time"} if backend == "sqlite"
                else {"ix_messages_app_time"})
            await conn.run_sync(downgrade, "0032")
            assert await conn.run_sync(indexes) == {"ix_messages_app_time"}
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_users_tail_starts_from_the_rows_above_the_watermark(db: Database) -> None:
    """The rows the FTS5 index does not hold yet are a few ids: SQLite must
    start from them, not read every text of the user's conversations."""
    await fill(db)
    plan = await sqlite_plan(db, SearchStore(db).tail(
        SearchScope(APP, "ann", parse_query("report")), 21))
    assert plan[0] == "SEARCH message_texts USING INTEGER PRIMARY KEY (rowid>?)", plan


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_messages_past_the_pointer_are_read_from_it(db: Database) -> None:
    """The messages whose search rows are not made yet (revision 0024) are a
    few rowids: SQLite must start from them whatever narrows the search,
    not from an index of messages (the app's whole ix_messages_app_time)."""
    await fill(db)
    store = SearchStore(db)
    query = parse_query("report")
    for viewer in ("ann", None):
        for scope in (SearchScope(APP, viewer, query),
                      SearchScope(APP, viewer, query, sender="ann", since=1, until=2**40),
                      SearchScope(APP, viewer, query, conversation_id=1,
                                  cursor=Cursor(2**40, 1, 5))):
            plan = await sqlite_plan(db, store.pending(scope))
            assert plan[0] == "SEARCH messages USING INTEGER PRIMARY KEY (rowid>?)", plan
