"""PostgreSQL's batch in one statement (store/writer/pg_batch.py): a batch
written from the writer's memory takes the long way when another process
wrote in its conversation meanwhile, or when it resends a stored send; the
rows of one statement come out as the statements in turn would make them."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Connection, text

from tests.test_writer_rows import KEY, counts, text_message
from tidings.domain.records import Committed
from tidings.store.callbacks import OutboxRows
from tidings.store.engine import Database
from tidings.store.push import PushJobRows
from tidings.store.search import TextRows
from tidings.store.writer import MessageWriter
from tidings.store.writer.pg_batch import Tail

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


def new_writer(db: Database) -> MessageWriter:
    writer = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    writer.register(TextRows(db), OutboxRows(db), PushJobRows(db, lambda app: True))
    writer.start()
    return writer


async def seq_of(writer: MessageWriter, client_msg_id: str) -> tuple[int, bool]:
    done = await writer.submit(text_message(client_msg_id, f"text of {client_msg_id}"))
    assert isinstance(done, Committed)
    return done.message.seq, done.duplicate


async def test_two_processes_writers_give_each_seq_once(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    # Two writers on one database: two processes of a cluster.
    caplog.set_level(logging.DEBUG, logger="tidings.store.writer.core")
    mine, other = new_writer(db), new_writer(db)
    try:
        assert await seq_of(mine, "m1") == (1, False)
        assert await seq_of(mine, "m2") == (2, False)  # from memory: the short way
        assert await seq_of(other, "m3") == (3, False)
        # Memory says 2: the database says 3, and decides.
        assert await seq_of(mine, "m4") == (4, False)
        assert await seq_of(mine, "m5") == (5, False)
        # A resend of what the other stored: its first ack, nothing stored.
        assert await seq_of(mine, "m3") == (3, True)
        assert await seq_of(mine, "m1") == (1, True)
    finally:
        await mine.stop()
        await other.stop()
    # Leaving the short way is routine (a resend, a seq moved): said at
    # DEBUG, never as a conflict with another process's commit.
    told = [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == "tidings.store.writer.core"]
    # (Each resend: its conversation stays in memory, so the next batch
    # tries the short way again.)
    assert [level for level, _ in told] == [logging.DEBUG] * 3, told
    assert "a seq moved" in told[0][1], told
    assert all("a unique key already taken" in m for _, m in told[1:]), told
    assert await counts(db) == {"messages": 5, "message_texts": 5, "callback_outbox": 5,
                                "push_jobs": 5}
    async with db.reader.connect() as conn:
        last = (await conn.execute(text(
            "SELECT last_seq, last_message_seq, last_msg_no FROM conversations"))).one()
        read = (await conn.execute(text(
            "SELECT read_seq FROM conversation_members WHERE user_id = 'alice'"))).scalar_one()
    assert tuple(last) == (5, 5, 5) and read == 5


def _rows(conn: Connection) -> list[tuple[int, int]]:
    cursor = conn.connection.cursor()
    cursor.execute("CREATE TEMPORARY TABLE tail_t (k int PRIMARY KEY, v int NOT NULL)"
                   " ON COMMIT DROP")
    cursor.execute("CREATE TEMPORARY TABLE tail_u (k int NOT NULL) ON COMMIT DROP")
    tail = Tail(conn, cursor)
    tail.executemany("INSERT INTO tail_t (k, v) VALUES ($1, $2)", [(1, 10), (2, 20), (3, 30)])
    tail.executemany("INSERT INTO tail_u (k) VALUES ($1)", [(7,), (8,)])
    # The same row twice: each in turn (+2, twice), as executemany would.
    tail.executemany("UPDATE tail_t SET v = v + $1 WHERE k = $2", [(1, 1), (1, 1)])
    tail.executemany("UPDATE tail_t SET v = v + $1 WHERE k = $2", [(1, 1), (1, 1)])
    # Rows written above: a statement of its own sees them.
    tail.executemany("UPDATE tail_t SET v = v * $1 WHERE k = $2", [(100, 1), (100, 2)])
    tail.executemany("INSERT INTO tail_t (k, v) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                     [(3,), (4,), (4,)])
    tail.send()
    cursor.execute("SELECT k, v FROM tail_t UNION ALL SELECT k, -1 FROM tail_u ORDER BY 1")
    found = [(int(k), int(v)) for k, v in cursor.fetchall()]
    cursor.close()
    return found


async def test_rows_in_one_statement_come_out_as_in_turn(db: Database) -> None:
    found = await db.run_write(_rows)
    assert found == [(1, 1400), (2, 2000), (3, 30), (4, 0), (7, -1), (8, -1)]


def _repeated_columns(conn: Connection) -> tuple[list[tuple[int, int, int]], int]:
    cursor = conn.connection.cursor()
    cursor.execute("CREATE TEMPORARY TABLE tail_m (k int PRIMARY KEY, v int NOT NULL,"
                   " n int8 NOT NULL) ON COMMIT DROP")
    cursor.execute("CREATE TEMPORARY TABLE tail_x (k int NOT NULL, n int8 NOT NULL)"
                   " ON COMMIT DROP")
    tail = Tail(conn, cursor, {})
    # k and v hold the same values (one int4 parameter for both), n too but
    # as int8 (its own); tail_x repeats k (sent once) and n in another order.
    tail.executemany("INSERT INTO tail_m (k, v, n) VALUES ($1, $2, $3)",
                     [(k, k, k) for k in range(1, 21)])
    tail.executemany("INSERT INTO tail_x (k, n) VALUES ($1, $2)",
                     [(k, 21 - k) for k in range(1, 21)])
    statement = tail._statements[-1]
    sql, params = tail._combined(statement, {})
    cursor.execute(sql, params)
    cursor.execute("SELECT m.k, m.v, m.n * 10 + x.n FROM tail_m m JOIN tail_x x USING (k)"
                   " ORDER BY 1")
    found = [(int(k), int(v), int(n)) for k, v, n in cursor.fetchall()]
    cursor.close()
    return found, len(params)


def _one_value_columns(conn: Connection) -> tuple[list[tuple[Any, ...]], int]:
    cursor = conn.connection.cursor()
    cursor.execute("CREATE TEMPORARY TABLE tail_c (k int NOT NULL, a text NOT NULL, b int8)"
                   " ON COMMIT DROP")
    for name in ("tail_d", "tail_e"):
        cursor.execute(f"CREATE TEMPORARY TABLE {name} (a text NOT NULL, n int8 NOT NULL)"
                       " ON COMMIT DROP")
    tail = Tail(conn, cursor, {})
    tail.executemany("INSERT INTO tail_c (k, a, b) VALUES ($1, $2, $3)",
                     [(k, "x", None) for k in range(20)])
    # Every column of one value (and `a` the same as tail_c's, in fewer rows).
    tail.executemany("INSERT INTO tail_d (a, n) VALUES ($1, $2)", [("x", 5)] * 17)
    # Fewer rows than _MANY: arrays, however alike.
    tail.executemany("INSERT INTO tail_e (a, n) VALUES ($1, $2)", [("y", 6)] * 3)
    sql, params = tail._combined(tail._statements[-1], {})
    cursor.execute(sql, params)
    cursor.execute("SELECT k, a, b FROM tail_c UNION ALL SELECT n, a, NULL FROM tail_d"
                   " UNION ALL SELECT n, a, NULL FROM tail_e ORDER BY 1, 2")
    found = [tuple(row) for row in cursor.fetchall()]
    cursor.close()
    return found, len(params)


async def test_one_value_columns_are_sent_as_the_value(db: Database) -> None:
    found, params = await db.run_write(_one_value_columns)
    assert found == sorted([(k, "x", None) for k in range(20)] + [(5, "x", None)] * 17
                           + [(6, "y", None)] * 3)
    # The gate's three; tail_c: its row count, k, "x", NULL; tail_d: its
    # row count, "x" (not tail_c's: fewer rows), 5; tail_e: two arrays.
    assert params == 3 + 4 + 3 + 2


async def test_repeated_columns_are_sent_once(db: Database) -> None:
    found, params = await db.run_write(_repeated_columns)
    assert found == [(k, k, k * 10 + 21 - k) for k in range(1, 21)]
    # The gate's three, then k (for k, v and tail_x's k), tail_m's n, tail_x's n.
    assert params == 3 + 3


async def test_a_resend_on_the_short_way_keeps_its_conversations_in_memory(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """The failed short way advanced the seqs in memory: put back, not
    forgotten (forgetting read each conversation, and a group's members,
    again). A conversation the long way does not write in (only a resend
    in it) must not keep the advanced seq: its next send would skip one."""
    caplog.set_level(logging.DEBUG, logger="tidings.store.writer.core")
    carol = replace(KEY, b="carol")
    writer = new_writer(db)
    try:
        assert await seq_of(writer, "m1") == (1, False)
        first = await writer.submit(replace(text_message("n1", "to carol"), key=carol))
        assert isinstance(first, Committed) and first.message.seq == 1
        remembered = writer._conversations.get(KEY), writer._conversations.get(carol)
        # One batch: a resend in one conversation, a new send in the other.
        resend = writer.submit(text_message("m1", "text of m1"))
        fresh = writer.submit(replace(text_message("n2", "to carol"), key=carol))
        again, new = await resend, await fresh
        assert isinstance(again, Committed) and isinstance(new, Committed)
        assert (again.message.seq, again.duplicate) == (1, True)
        assert (new.message.seq, new.duplicate) == (2, False)
        assert (writer._conversations.get(KEY), writer._conversations.get(carol)) == remembered
        # Next, each conversation's next seq, the short way (no second
        # "long way" in the log).
        assert await seq_of(writer, "m2") == (2, False)
        after = await writer.submit(replace(text_message("n3", "to carol"), key=carol))
        assert isinstance(after, Committed) and after.message.seq == 3
    finally:
        await writer.stop()
    told = [r.getMessage() for r in caplog.records if r.name == "tidings.store.writer.core"]
    assert len(told) == 1 and "a unique key already taken" in told[0], told
    async with db.reader.connect() as conn:
        last = (await conn.execute(text(
            "SELECT b, last_seq, last_msg_no FROM conversations ORDER BY b"))).all()
    assert [tuple(row) for row in last] == [("bob", 2, 2), ("carol", 3, 3)]
