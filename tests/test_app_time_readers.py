"""The readers of ``messages`` by app and time without ``ix_messages_app_time``
(issue 19), on both backends: retention finds its conversations by their
first entry, and they are the conversations expiry removes something
from (an import older than its conversation's first message is not one);
the figures' messages are the writer's counts per app and minute, equal to
counting the messages (resends, recalls and edits not counted, imports by
their time, batches that failed half way not at all), and stay as sent
when retention removes messages; migration 0032 fills them, both ways."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import database_url
from tests.pg import Cluster
from tests.test_home_codes_migration import downgrade, upgrade
from tidings.domain.elements import EntryKind, ImportMode
from tidings.domain.ids import c2c_key
from tidings.domain.records import NewChange, NewMessage
from tidings.services.stats import KEEP_MINUTES_MS
from tidings.store.engine import Database
from tidings.store.retention import RetentionStore
from tidings.store.schema import app_message_counts, app_minutes, conversations, messages
from tidings.store.search import TextRows
from tidings.store.search_index import BUILT_SQL, build_step
from tidings.store.stats import StatsStore
from tidings.store.writer import MessageWriter
from tidings.store.writer.messages import COUNT_SQL
from tidings.store.writer.pg_batch import Tail

APP, OTHER = 1400000061, 1400000062
OLD, BEFORE = 1_000_000, 2_000_000
BODY = orjson.dumps([{"type": "text", "text": "hi"}]).decode()


def message(app: int, a: str, b: str, n: int, time: int | None = None) -> NewMessage:
    return NewMessage(c2c_key(app, a, b), a, f"m{n}", BODY, "", time=time,
                      imported=ImportMode.NONE if time is None else ImportMode.HISTORY)


async def conversation_ids(db: Database, app: int) -> dict[str, int]:
    c = conversations.c
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(c.a, c.b, c.id).where(c.sdkappid == app))).all()
    # Each is ann's with another: by the other's name.
    return {str(b if a == "ann" else a): int(cid) for a, b, cid in rows}


async def test_retention_reads_each_conversation_by_its_first_entry(db: Database) -> None:
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.start()
    n = iter(range(1000))
    try:
        # old_first: its first entry is old (an import), then new ones.
        await writer.submit(message(APP, "ann", "old_first", next(n), OLD))
        await writer.submit(message(APP, "ann", "old_first", next(n), OLD + 1))
        await writer.submit(message(APP, "ann", "old_first", next(n)))
        # all_new: nothing old.
        await writer.submit(message(APP, "ann", "all_new", next(n)))
        # old_import: a new first entry, then an import from long ago.
        await writer.submit(message(APP, "ann", "old_import", next(n)))
        await writer.submit(message(APP, "ann", "old_import", next(n), OLD))
        # all_old: every entry old.
        await writer.submit(message(APP, "ann", "all_old", next(n), OLD))
        # Another app's old conversation.
        await writer.submit(message(OTHER, "ann", "old_first", next(n), OLD))
    finally:
        await writer.stop()
    ids = await conversation_ids(db, APP)
    store = RetentionStore(db)
    want = sorted([ids["old_first"], ids["all_old"]])
    assert await store.conversations_with_old(APP, BEFORE, 0, 100) == want
    # Paged by id.
    assert await store.conversations_with_old(APP, BEFORE, 0, 1) == want[:1]
    assert await store.conversations_with_old(APP, BEFORE, want[0], 100) == want[1:]
    assert await store.conversations_with_old(APP, BEFORE, want[1], 100) == []
    # Nothing is older than OLD.
    assert await store.conversations_with_old(APP, OLD, 0, 100) == []
    # The import older than its conversation's first entry: expiry removes
    # nothing there, so it is not listed.
    assert await store.expire_batch(ids["old_import"], BEFORE, 100) == 0
    # Once the prefix is gone, the conversation is no longer one.
    assert await store.expire_batch(ids["old_first"], BEFORE, 100) == 2
    assert await store.conversations_with_old(APP, BEFORE, 0, 100) == [ids["all_old"]]
    assert await store.expire_batch(ids["all_old"], BEFORE, 100) == 1
    assert await store.conversations_with_old(APP, BEFORE, 0, 100) == []
    assert await store.conversations_with_old(OTHER, BEFORE, 0, 100) == list(
        (await conversation_ids(db, OTHER)).values())


MINUTE = 60_000


def counting_writer(db: Database, node: str | None = None) -> MessageWriter:
    """A writer with the search rows, whose step counts the messages on
    SQLite (store/search_index.py count_messages); started."""
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None, node=node)
    writer.register(TextRows(db))
    writer.start()
    return writer


async def counted(db: Database) -> dict[tuple[int, int], int]:
    """The counts by app and minute, every process's rows summed."""
    k = app_message_counts.c
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(k.sdkappid, k.minute, func.sum(k.messages))
                                   .group_by(k.sdkappid, k.minute))).all()
    return {(int(a), int(m)): int(n) for a, m, n in rows}


async def by_node(db: Database) -> dict[tuple[int, int, str], int]:
    k = app_message_counts.c
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(k.sdkappid, k.minute, k.node, k.messages))).all()
    return {(int(a), int(m), str(node)): int(n) for a, m, node, n in rows}


async def oracle(db: Database) -> dict[tuple[int, int], int]:
    """The messages counted one by one, by app and minute."""
    m = messages.c
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(m.sdkappid, m.created_at).where(
            m.kind == EntryKind.MESSAGE))).all()
    found: dict[tuple[int, int], int] = {}
    for app, at in rows:
        key = (int(app), int(at) - int(at) % MINUTE)
        found[key] = found.get(key, 0) + 1
    return found


async def test_the_figures_messages_are_the_writers_counts(db: Database) -> None:
    writer = counting_writer(db)
    n = iter(range(10_000))
    try:
        # Batches of many: new messages, imports over several minutes, both apps.
        first: list[NewMessage] = []
        for _ in range(3):
            sends = [message(app, "ann", b, next(n), at)
                     for app in (APP, OTHER) for b in ("bob", "cy", "dee")
                     for at in (None, None, OLD + 25_000 * next(n) % 400_000)]
            await asyncio.gather(*(writer.submit(r) for r in sends))
            first += [r for r in sends if r.key == c2c_key(APP, "ann", "bob")]
        # One app's batch, new messages and imports: the imports by their time.
        sends = [message(APP, "ann", "eve", next(n), at)
                 for at in (None, OLD + 7 * MINUTE, None, OLD + 9 * MINUTE + 5)]
        await asyncio.gather(*(writer.submit(r) for r in sends))
        # A batch with resends of stored messages in conversations the writer
        # holds (on PostgreSQL the short way fails on the client id and the
        # batch goes the long way): each resend counted once, at its first.
        again = first[:3]
        fresh = [message(APP, "ann", "bob", next(n)) for _ in range(3)]
        answers = await asyncio.gather(*(writer.submit(r) for r in again + fresh))
        assert [a.duplicate for a in answers] == [True] * 3 + [False] * 3
        # Changes are entries, not messages.
        key = c2c_key(APP, "ann", "bob")
        await writer.submit(NewChange(key, 1, EntryKind.RECALL, "admin:t"))
        await writer.submit(NewChange(key, 2, EntryKind.EDIT, "admin:t", elements=BODY))
    finally:
        await writer.stop()
    want = await oracle(db)
    assert await counted(db) == want
    assert sum(n for (app, _), n in want.items() if app == APP) == 3 * 9 + 4 + 3
    stats = StatsStore(db)
    minutes = sorted({m for app, m in want if app == APP})
    assert len(minutes) >= 4
    for since in (0, minutes[1], minutes[1] + 1, minutes[-1]):
        start = since - since % MINUTE
        assert (await stats.counts(APP, since)).messages == sum(
            n for (app, m), n in want.items() if app == APP and m >= start)
    for step in (MINUTE, 3 * MINUTE, 60 * MINUTE):
        since = minutes[0] - minutes[0] % step
        series = await stats.series(APP, since, step)
        by_step: dict[int, int] = {}
        for (app, m), n in want.items():
            if app == APP:
                by_step[(m - since) // step] = by_step.get((m - since) // step, 0) + n
        assert {i: int(p["messages"]) for i, p in series.items() if "messages" in p} == by_step
    with pytest.raises(ValueError):
        await stats.series(APP, minutes[0] + 1, MINUTE)
    # Retention removes messages, not what was sent.
    retention = RetentionStore(db)
    later = int(time.time() * 1000) + 86_400_000  # every message is older
    for cid in await retention.conversations_with_old(APP, later, 0, 100):
        assert await retention.expire_batch(cid, later, 100) > 0
    assert await oracle(db) != want
    assert await counted(db) == want


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_each_writer_counts_in_its_own_rows_summed_by_the_readers(db: Database) -> None:
    """Two processes' writers (each its node) in the same minutes: each adds
    to its own row, never the other's; the figures sum them."""
    first = counting_writer(db)
    second = counting_writer(db, node="second")
    assert first.node and first.node != second.node
    n = iter(range(1000))
    at = 20 * MINUTE  # a whole minute, before OLD + 10 minutes
    try:
        # Imports, to fix their minute; then new messages, both at once.
        await asyncio.gather(*(first.submit(message(APP, "ann", "bob", next(n), at + i))
                               for i in range(3)))
        await asyncio.gather(*(second.submit(message(APP, "ann", "cy", next(n), at + 7))
                               for _ in range(2)))
        await second.submit(message(APP, "ann", "cy", next(n), at + MINUTE))
        await asyncio.gather(first.submit(message(APP, "ann", "bob", next(n))),
                             second.submit(message(APP, "ann", "cy", next(n))))
    finally:
        await first.stop()
        await second.stop()
    rows = await by_node(db)
    assert {key: v for key, v in rows.items() if key[1] < OLD + 10 * MINUTE} == {
        (APP, at, first.node): 3, (APP, at, "second"): 2, (APP, at + MINUTE, "second"): 1}
    now = {key: v for key, v in rows.items() if key[1] >= OLD + 10 * MINUTE}
    assert sorted(node for _, _, node in now) == sorted([first.node, "second"])
    assert sum(now.values()) == 2
    assert await counted(db) == await oracle(db)
    stats = StatsStore(db)
    assert (await stats.counts(APP, 0)).messages == 8
    assert (await stats.counts(APP, at + MINUTE)).messages == 3
    series = await stats.series(APP, at, MINUTE)
    assert series[0]["messages"] == 5 and series[1]["messages"] == 1


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_starts_add_to_one_row_per_app_and_minute(db: Database) -> None:
    """On SQLite (one process a file) each start's step adds to node '',
    the migration's: an app's minute stays one row however often the
    process restarts."""
    n = iter(range(1000))
    at = 20 * MINUTE
    for node in ("first", "second", None):
        writer = counting_writer(db, node)
        try:
            await asyncio.gather(*(writer.submit(message(APP, "ann", "bob", next(n), at + i))
                                   for i in range(3)))
        finally:
            await writer.stop()
    assert await by_node(db) == {(APP, at, ""): 9}
    assert await counted(db) == await oracle(db)


async def built_to(db: Database) -> int:
    async with db.reader.connect() as conn:
        return int(await conn.scalar(text(BUILT_SQL)) or 0)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_counts_follow_the_commits_with_the_step_pointer(db: Database) -> None:
    """On SQLite a batch writes no count: the search step counts the
    messages past ``built_to`` in its own transaction, moving both. A step
    rolled back (a crash before its commit) counts nothing and leaves the
    pointer; the messages a process committed and never stepped (a writer
    without the step here, as a crash between commits and step) are
    counted by the next start's first step, once."""
    n = iter(range(1000))
    plain = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    plain.start()
    try:
        await asyncio.gather(*(plain.submit(message(app, "ann", b, next(n), at))
                               for app in (APP, OTHER) for b in ("bob", "cy")
                               for at in (None, OLD, OLD + MINUTE + 1)))
        await plain.submit(NewChange(c2c_key(APP, "ann", "bob"), 1, EntryKind.RECALL,
                                     "admin:t"))
    finally:
        await plain.stop()
    want = await oracle(db)
    assert sum(want.values()) == 12
    assert await counted(db) == {}
    before = await built_to(db)
    stats = StatsStore(db)
    since = OLD - OLD % MINUTE

    async def figures() -> tuple[int, int, dict[int, int]]:
        """What the readers see: the counts and the messages past the
        pointer (one statement), neither missed nor twice."""
        series = await stats.series(APP, since, MINUTE)
        return ((await stats.counts(APP, 0)).messages, (await stats.counts(OTHER, 0)).messages,
                {i: int(p["messages"]) for i, p in series.items() if i < 5})

    whole = (6, 6, {0: 2, 1: 2})
    assert await figures() == whole  # nothing counted yet: all past the pointer

    def step(conn: Connection) -> int:
        cursor = conn.connection.cursor()
        try:
            return build_step(cursor, 5)
        finally:
            cursor.close()

    async with db.writer.connect() as conn:
        await conn.begin()
        assert await conn.run_sync(step) == 5
        await conn.rollback()
    assert await counted(db) == {}
    assert await built_to(db) == before
    assert await figures() == whole
    async with db.writer.connect() as conn:
        await conn.begin()
        assert await conn.run_sync(step) == 5
        await conn.commit()
    part = await counted(db)
    assert 0 < sum(part.values()) == 5 < 12  # the first five messages (rowid order)
    assert await figures() == whole
    # A conversation's messages removed before the step reached them (a
    # trigger counts each as it goes) and one the step counted: once each.
    retention = RetentionStore(db)
    later = int(time.time() * 1000) + 86_400_000
    cy = (await conversation_ids(db, OTHER))["cy"]
    assert await retention.expire_batch(cy, later, 100) == 3
    bob = (await conversation_ids(db, APP))["bob"]
    async with db.writer.begin() as conn:  # its first message, counted by the step above
        await conn.execute(text("DELETE FROM messages WHERE conversation_id = :c AND seq = 1"),
                           {"c": bob})
    assert await figures() == whole
    writer = counting_writer(db)
    try:
        for _ in range(100):  # its first idle moment steps to the end
            if await counted(db) == want:
                break
            await asyncio.sleep(0.05)
        assert await counted(db) == want
        # New messages: counted by the step after their commit, not in it.
        await writer.submit(message(APP, "ann", "dee", next(n)))
        assert sum((await counted(db)).values()) == 12
        assert (await stats.counts(APP, 0)).messages == 7  # read past the pointer
    finally:
        await writer.stop()  # finishes the step
    found = await counted(db)
    assert sum(found.values()) == 13 and sum(n for (app, _), n in found.items()
                                             if app == OTHER) == 6
    assert sum((await oracle(db)).values()) == 13 - 4  # retention's 3 and the one deleted
    assert (await stats.counts(APP, 0)).messages == 7


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_reads_the_uncounted_messages_by_rowid_from_the_pointer(
        db: Database) -> None:
    """The figures' read of the messages past the step's pointer is a rowid
    range, not the app's every message by an index of messages."""
    sent = StatsStore(db)._sent(APP, 0).subquery()
    sql = str(select(func.sum(sent.c.n)).compile(
        db.reader, compile_kwargs={"literal_binds": True}))
    async with db.reader.connect() as conn:
        plan = [str(r[3]) for r in (await conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + sql)).all()]
    messages_steps = [p for p in plan if " messages " in f"{p} "]
    assert messages_steps == ["SEARCH messages USING INTEGER PRIMARY KEY (rowid>?)"], plan


async def test_the_per_minute_rows_are_pruned_past_the_longest_window(db: Database) -> None:
    """The sampler's prune takes the message counts with app_minutes: rows
    before its bound go, those at or after it stay, every node's."""
    keep = KEEP_MINUTES_MS
    assert keep >= 10_080 * MINUTE + 86_400_000  # the series' 7 days, and a day
    now = 100 * keep
    bound = now - keep
    async with db.writer.begin() as conn:
        for minute in (bound - 2 * MINUTE, bound - MINUTE, bound, now):
            for node in ("", "n1"):
                await conn.execute(app_message_counts.insert().values(
                    sdkappid=APP, minute=minute, node=node, messages=2))
                await conn.execute(app_minutes.insert().values(
                    sdkappid=APP, minute=minute, node=node, connections=1, active_users=1))
    stats = StatsStore(db)
    assert await stats.prune_minutes(bound) == 8
    assert await by_node(db) == {(APP, m, node): 2 for m in (bound, now) for node in ("", "n1")}
    assert set(await stats.minutes(APP, 0)) == {bound, now}
    assert (await stats.counts(APP, 0)).messages == 8


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_two_nodes_upserts_of_one_minute_do_not_wait_for_each_other(
        db: Database) -> None:
    """One process's transaction holds its upsert of the app's minute open
    (as from its upsert to its commit's fsync); another process's upsert of
    the same app and minute goes through at once, not after that commit. A
    lock timeout bounds the wait: the same node's row (what one row of all
    the processes was) does wait, so the test sees a wait."""
    sql = db.driver_sql(COUNT_SQL)
    minute = OLD - OLD % MINUTE
    async with db.writer.connect() as holder, db.writer.connect() as other:
        await holder.begin()
        await holder.exec_driver_sql(sql, (APP, minute, "n1", 3))
        await other.begin()
        await other.exec_driver_sql("SET LOCAL lock_timeout = '3s'")
        await asyncio.wait_for(other.exec_driver_sql(sql, (APP, minute, "n2", 2)), 10)
        await other.commit()
        await other.begin()
        await other.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
        with pytest.raises(DBAPIError, match="lock timeout"):
            await other.exec_driver_sql(sql, (APP, minute, "n1", 1))
        await other.rollback()
        await holder.commit()
    assert await by_node(db) == {(APP, minute, "n1"): 3, (APP, minute, "n2"): 2}
    assert (await StatsStore(db).counts(APP, minute)).messages == 5


def _count_upsert(conn: Connection, sql: str
                  ) -> tuple[bool, list[tuple[int, int, str, int]]]:
    """The counts' upsert, joined to another write in one statement."""
    cursor = conn.connection.cursor()
    cursor.execute("CREATE TEMPORARY TABLE tail_z (k int NOT NULL) ON COMMIT DROP")
    cursor.execute("INSERT INTO app_message_counts VALUES (7, 60000, 'n1', 5),"
                   " (7, 60000, 'n2', 4)")
    tail = Tail(conn, cursor, {})
    tail.executemany("INSERT INTO tail_z (k) VALUES ($1)", [(1,), (2,)])
    tail.executemany(sql, [(7, 60000, "n1", 2), (7, 120000, "n1", 3), (8, 60000, "n1", 1)])
    joined = len(tail._statements) == 1 and all(
        plan is not None for _, plan, _ in tail._statements[0])
    tail.send()
    cursor.execute("SELECT sdkappid, minute, node, messages FROM app_message_counts"
                   " ORDER BY 1, 2, 3")
    found = [(int(a), int(m), str(node), int(n)) for a, m, node, n in cursor.fetchall()]
    cursor.close()
    return joined, found


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_the_counts_upsert_joins_the_batchs_one_statement(db: Database) -> None:
    joined, found = await db.run_write(partial(_count_upsert, sql=db.driver_sql(COUNT_SQL)))
    assert joined
    assert found == [(7, 60000, "n1", 7), (7, 60000, "n2", 4), (7, 120000, "n1", 3),
                     (8, 60000, "n1", 1)]


async def test_migration_0032_both_ways(backend: str, pg_cluster: Cluster | None,
                                        tmp_path: Path) -> None:
    url = (database_url(backend, pg_cluster, empty=True)
           or f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    engine = create_async_engine(url)

    def tables(conn: Connection) -> set[str]:
        return set(inspect(conn).get_table_names())

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0031")
            await conn.execute(text(
                "INSERT INTO conversations (id, sdkappid, kind, a, b, created_at)"
                " VALUES (1, :app, 'c2c', 'ann', 'bob', 0), (2, :other, 'c2c', 'ann', 'bob', 0)"),
                {"app": APP, "other": OTHER})
            # (conversation, seq, app, time, kind)
            entries = [(1, 1, APP, 60_000, 0), (1, 2, APP, 119_999, 0), (1, 3, APP, 120_000, 0),
                       (1, 4, APP, 120_001, 1), (1, 5, APP, 130_000, 2),
                       (2, 1, OTHER, 60_001, 0)]
            for cid, seq, app, at, kind in entries:
                await conn.execute(text(
                    "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
                    " elements, created_at, kind) VALUES (:c, :s, :a, 'ann', :id, '[]', :t, :k)"),
                    {"c": cid, "s": seq, "a": app, "id": f"m{cid}-{seq}", "t": at, "k": kind})
            assert "app_message_counts" not in await conn.run_sync(tables)
            count_sql = ("SELECT sdkappid, minute, node, messages FROM app_message_counts"
                         " ORDER BY 1, 2")
            whole = [(APP, 60_000, "", 2), (APP, 120_000, "", 1), (OTHER, 60_000, "", 1)]
            if backend == "sqlite":
                # The search step has made the rows of the first two
                # messages: those are filled, the rest are the step's.
                await conn.execute(text(
                    "UPDATE message_texts_fts_built SET built_to ="
                    " (SELECT rowid FROM messages WHERE client_msg_id = 'm1-2')"))
            await conn.run_sync(upgrade, "0032")
            rows = (await conn.execute(text(count_sql))).all()
            if backend == "sqlite":
                assert [tuple(r) for r in rows] == [(APP, 60_000, "", 2)]

                def step(sync: Connection) -> int:
                    cursor = sync.connection.cursor()
                    try:
                        return build_step(cursor, 100)
                    finally:
                        cursor.close()

                assert await conn.run_sync(step) == 4
                rows = (await conn.execute(text(count_sql))).all()
            assert [tuple(r) for r in rows] == whole
            trigger = text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
                           " AND name = 'app_message_counts_uncounted_bd'")
            if backend == "sqlite":
                assert await conn.scalar(trigger) == 1
            await conn.run_sync(downgrade, "0031")
            assert "app_message_counts" not in await conn.run_sync(tables)
            if backend == "sqlite":
                assert await conn.scalar(trigger) == 0
            await conn.run_sync(upgrade, "0032")
            # (SQLite: all stepped now, all filled.)
            assert (await conn.scalar(select(func.sum(app_message_counts.c.messages)))) == 4
    finally:
        await engine.dispose()
