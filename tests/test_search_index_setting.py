"""search_index (TIDINGS_SEARCH_INDEX): trigram, the default, or none. A
real runtime started with none, then trigram, then none again on one
database finds exactly the same messages at every step (ASCII, CJK, words
of one or two characters, edits, recalls; a user's search and the app's)
on both backends. SQLite with none: the steps make the text rows but leave
FTS5's watermark where it was, and back on trigram the index catches up
from it (FTS5's integrity check holds). PostgreSQL: none drops
``ix_message_texts_body_trgm``, trigram makes it again, and an INVALID one
(a build cut short) is built again. A bad value is refused naming the
variable and the values allowed."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from tests.pg import Cluster
from tests.templates import seed_sqlite
from tidings.config_sources import ConfigError
from tidings.config_sources import load as load_settings
from tidings.domain.cluster import SEARCH_INDEX_LOCK
from tidings.domain.elements import EntryKind
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import NewChange, NewMessage
from tidings.domain.search import parse_query
from tidings.runtime import Runtime
from tidings.store.engine import Database
from tidings.store.search import SearchScope
from tidings.store.search_gin import INDEX, index_state, settle

APP = 1400000077
KEY = ConversationKey(APP, ConversationKind.C2C, "alice", "bob")
QUERIES = ("parrot", "鹦鹉", "ab", "original", "edited", "recalled", "words")


async def started(tmp_path: Path, url: str, setting: str) -> Runtime:
    env = {"TIDINGS_DATA_DIR": str(tmp_path / "data"), "TIDINGS_PUSH_ENABLED": "0",
           "TIDINGS_SEARCH_INDEX": setting}
    if url:
        env["TIDINGS_DATABASE_URL"] = url
    runtime = await Runtime.start(load_settings(env=env, cwd=tmp_path).settings)
    await runtime.search_index.settled()
    return runtime


async def send(runtime: Runtime, client_msg_id: str, words: str) -> None:
    await runtime.writer.submit(NewMessage(
        KEY, "alice", client_msg_id, orjson.dumps([{"type": "text", "text": words}]).decode(),
        ""))


async def change(runtime: Runtime, seq: int, words: str | None) -> None:
    kind = EntryKind.RECALL if words is None else EntryKind.EDIT
    elements = None if words is None else orjson.dumps([{"type": "text", "text": words}]).decode()
    await runtime.writer.submit(NewChange(KEY, seq, kind, "user:alice", elements=elements,
                                          sender="alice"))


async def scalar(db: Database, sql: str) -> int:
    async with db.reader.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def built(runtime: Runtime, *, indexed: bool) -> None:
    """SQLite: until the steps have made every text row (and, ``indexed``,
    put every row into FTS5)."""
    db = runtime.db
    if db.dialect != "sqlite":
        return
    for _ in range(500):
        made = await scalar(db, "SELECT built_to FROM message_texts_fts_built") >= await scalar(
            db, "SELECT coalesce(max(rowid), 0) FROM messages")
        if made and (not indexed or await watermark(db) >= await scalar(
                db, "SELECT coalesce(max(id), 0) FROM message_texts")):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the steps did not catch up")


async def watermark(db: Database) -> int:
    return await scalar(db, "SELECT indexed_to FROM message_texts_fts_indexed")


async def results(runtime: Runtime) -> dict[tuple[str, str | None], list[int]]:
    """Every query's seqs, for alice, bob and the app's admin (None), with
    the runtime's own search store (its setting)."""
    store = runtime.search._store
    out = {}
    for words in QUERIES:
        for viewer in ("alice", "bob", None):
            scope = SearchScope(APP, viewer, parse_query(words))
            out[words, viewer] = sorted(f.message.seq for f in await store.search(scope, 50))
    return out


def expected(**seqs: list[int]) -> dict[tuple[str, str | None], list[int]]:
    names = {"parrot": "parrot", "cjk": "鹦鹉", "ab": "ab", "original": "original",
             "edited": "edited", "recalled": "recalled", "words": "words"}
    return {(names[k], viewer): v for k, v in seqs.items() for viewer in ("alice", "bob", None)}


async def pg_index(runtime: Runtime) -> str:
    async with runtime.db.reader.connect() as conn:
        return await index_state(conn)


@pytest.fixture
def url(backend: str, pg_cluster: Cluster | None, tmp_path: Path) -> str:
    if backend == "sqlite":
        seed_sqlite(tmp_path / "data")
        return ""
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    return pg_cluster.new_database()


async def test_none_then_trigram_then_none_find_the_same(tmp_path: Path, url: str) -> None:
    runtime = await started(tmp_path, url, "trigram")
    try:
        await send(runtime, "1", "the parrot talks")
        await send(runtime, "2", "鹦鹉会说话")
        await send(runtime, "3", "go ab now")
        await send(runtime, "4", "original words")
        await send(runtime, "5", "a recalled parrot")
        await change(runtime, 4, "edited words, a parrot")
        await change(runtime, 5, None)
        await built(runtime, indexed=True)
        first = expected(parrot=[1, 4], cjk=[2], ab=[3], original=[], edited=[4],
                         recalled=[], words=[4])
        assert await results(runtime) == first
        if url:
            assert await pg_index(runtime) == "valid"
        mark = await watermark(runtime.db) if not url else 0
    finally:
        await runtime.stop()

    runtime = await started(tmp_path, url, "none")
    try:
        assert await results(runtime) == first
        await send(runtime, "6", "another parrot")
        await send(runtime, "7", "小鹦鹉")
        await change(runtime, 1, "the bird talks")
        await change(runtime, 3, None)
        await send(runtime, "8", "more words")
        await built(runtime, indexed=False)
        # (seqs 6, 7, 10, 11: the changes' entries)
        second = expected(parrot=[4, 8], cjk=[2, 9], ab=[], original=[], edited=[4],
                          recalled=[], words=[4, 12])
        assert await results(runtime) == second
        if url:
            assert await pg_index(runtime) == "absent"
        else:
            # The rows are made, FTS5 is not fed: its watermark stays.
            assert await watermark(runtime.db) == mark
            assert await scalar(runtime.db, "SELECT count(*) FROM message_texts") == 6
    finally:
        await runtime.stop()

    runtime = await started(tmp_path, url, "trigram")
    try:
        assert await results(runtime) == second  # exact while it catches up
        await send(runtime, "9", "parrot ab")
        await change(runtime, 8, "no bird")
        await built(runtime, indexed=True)
        third = expected(parrot=[4, 13], cjk=[2, 9], ab=[13], original=[], edited=[4],
                         recalled=[], words=[4, 12])
        assert await results(runtime) == third
        if url:
            assert await pg_index(runtime) == "valid"
        else:
            assert await watermark(runtime.db) > mark
            async with runtime.db.writer.begin() as conn:  # FTS5 against its content
                await conn.execute(text("INSERT INTO message_texts_fts (message_texts_fts,"
                                        " rank) VALUES ('integrity-check', 1)"))
    finally:
        await runtime.stop()

    runtime = await started(tmp_path, url, "none")
    try:
        await send(runtime, "10", "鹦鹉 parrot words")
        await built(runtime, indexed=False)
        assert await results(runtime) == expected(
            parrot=[4, 13, 15], cjk=[2, 9, 15], ab=[13], original=[], edited=[4], recalled=[],
            words=[4, 12, 15])
        if url:
            assert await pg_index(runtime) == "absent"
    finally:
        await runtime.stop()


async def test_an_invalid_index_is_built_again(tmp_path: Path, url: str) -> None:
    if not url:
        pytest.skip("PostgreSQL's index")
    runtime = await started(tmp_path, url, "trigram")
    try:
        await send(runtime, "1", "the parrot talks")
        async with runtime.db.writer.begin() as conn:
            # What a CREATE INDEX CONCURRENTLY cut short leaves.
            await conn.execute(text("UPDATE pg_index SET indisvalid = false"
                                    f" WHERE indexrelid = '{INDEX}'::regclass"))
        assert await pg_index(runtime) == "invalid"
    finally:
        await runtime.stop()
    runtime = await started(tmp_path, url, "trigram")
    try:
        assert await pg_index(runtime) == "valid"
        assert await results(runtime) == expected(
            parrot=[1], cjk=[], ab=[], original=[], edited=[], recalled=[], words=[])
    finally:
        await runtime.stop()


@pytest.mark.parametrize("bad", ["words", "Trigram", ""])
def test_a_bad_value_is_refused_naming_the_values(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"TIDINGS_SEARCH_INDEX": bad}, cwd=tmp_path)
    message = str(refused.value)
    assert message.startswith(f"TIDINGS_SEARCH_INDEX={bad!r}: "), message
    assert "'trigram'" in message and "'none'" in message, message


async def test_changes_to_the_index_wait_for_another_node_and_say_so(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Two nodes with different settings: a change waits for the advisory
    lock another node holds (its build or drop), and a node that finds the
    other setting in force warns, naming the setting."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL's index")
    async with db.reader.connect() as other:
        await other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SEARCH_INDEX_LOCK})
        dropping = asyncio.create_task(settle(db, False))
        await asyncio.sleep(0.3)
        # Not dropped while the other node holds the lock.
        assert not dropping.done()
        assert await index_state(other) == "valid"
        await other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SEARCH_INDEX_LOCK})
        await other.commit()
        assert await dropping == "valid"
        assert await index_state(other) == "absent"
    assert "search_index=none: dropping" in caplog.text
    caplog.clear()
    assert await settle(db, True) == "absent"
    assert "search_index=trigram" in caplog.text and "missing" in caplog.text
    async with db.reader.connect() as conn:
        assert await index_state(conn) == "valid"
    caplog.clear()
    assert await settle(db, True) == "valid"  # nothing to do: no warning
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
