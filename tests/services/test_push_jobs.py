"""Push jobs as the message writer leaves them and the push worker's store
takes them (store/push.py), without a server, on SQLite and PostgreSQL: a
job for each message that pushes (none for a history import or an app that
does not push), due once its time passed, due again until its step is
recorded (a crash before the record redoes it), and gone once recorded,
with its sends written once. On SQLite the job is the message's
``push_options`` past a pointer: a step that read messages whose rowids
came again (the newest deleted) records nothing and is done again, a
message whose deciding failed becomes a ``push_jobs`` row, and a message
committed before a due one is due with it (an import's own time may be
ahead), and going back to revision 0024 makes rows of the pending ones."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from tidings.domain.clock import now_ms
from tidings.domain.elements import ImportMode
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import Committed, NewMessage
from tidings.store.engine import MIGRATIONS, Database
from tidings.store.push import PushStore
from tidings.store.push_jobs import Job, PointerMoved, PushJobRows
from tidings.store.stats import StatsStore
from tidings.store.writer import MessageWriter

APP, QUIET_APP = 1400000051, 1400000052
BODY = orjson.dumps([{"type": "text", "text": "hi"}]).decode()


def message(client_msg_id: str, app: int = APP, **fields: object) -> NewMessage:
    key = ConversationKey(app, ConversationKind.C2C, "alice", "bob")
    return NewMessage(key, "alice", client_msg_id, BODY, "", **fields)  # type: ignore[arg-type]


@pytest.fixture
async def writer(db: Database) -> AsyncIterator[tuple[MessageWriter, PushJobRows]]:
    w = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    rows = PushJobRows(db, lambda app: app != QUIET_APP)
    rows.attach(w)
    w.start()
    try:
        yield w, rows
    finally:
        await w.stop()


async def send(w: MessageWriter, r: NewMessage) -> int:
    done = await w.submit(r)
    assert isinstance(done, Committed) and not done.duplicate
    return done.message.seq


def seqs(jobs: list[Job]) -> list[tuple[int, str]]:
    return [(j.seq, j.options) for j in jobs]


async def record_due(store: PushStore) -> list[tuple[int, str]]:
    """Take the due jobs and record them with nothing to send (a step whose
    receivers were all present)."""
    due = await store.due_jobs(now_ms(), 200)
    await store.finish_jobs(due.jobs, [], [], due.move)
    return seqs(due.jobs)


async def scalar(db: Database, sql: str) -> int:
    return int(await db.read(lambda conn: conn.exec_driver_sql(sql).scalar()))


async def test_a_job_is_due_until_its_step_is_recorded_then_gone(
        db: Database, writer: tuple[MessageWriter, PushJobRows]) -> None:
    w, rows = writer
    store = PushStore(db)
    await send(w, message("m1"))
    await send(w, message("m2", imported=ImportMode.HISTORY, time=now_ms() - 60_000))
    await send(w, message("m3", push='{"title":"T","text":"","ext":""}'))
    await send(w, message("m4", push=None))
    await send(w, message("q1", app=QUIET_APP))
    assert rows.take_written() == 2  # the commit hook wakes the worker for these
    count, waited = (await StatsStore(db).queues(now_ms() + 1000))["push_jobs"]
    assert count == 2 and waited >= 1.0  # the metrics' queue depth
    due = await store.due_jobs(now_ms(), 200)
    assert seqs(due.jobs) == [(1, ""), (3, '{"title":"T","text":"","ext":""}')]
    assert not due.full
    # Not recorded (the process died while deciding): the same jobs again.
    again = await store.due_jobs(now_ms(), 200)
    assert seqs(again.jobs) == seqs(due.jobs)
    first = again.jobs[0]
    await store.finish_jobs(again.jobs, [(first, APP, "bob", "phone", "{}")], [], again.move)
    assert (await store.due_jobs(now_ms(), 200)).jobs == []
    assert (await store.next_due())[0] is None
    assert await scalar(db, "SELECT count(*) FROM push_sends") == 1
    if db.dialect == "sqlite":
        # A step that read them before records nothing: no send twice.
        with pytest.raises(PointerMoved):
            await store.finish_jobs(due.jobs, [(first, APP, "bob", "phone", "{}")], [],
                                    due.move)
        assert await scalar(db, "SELECT count(*) FROM push_sends") == 1
        assert await scalar(db, "SELECT count(*) FROM push_jobs") == 0


async def test_a_batch_asks_once_per_app_whether_it_pushes(db: Database) -> None:
    asked: list[int] = []

    def wants(app: int) -> bool:
        asked.append(app)
        return app != QUIET_APP

    w = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    rows = PushJobRows(db, wants)
    rows.attach(w)
    w.start()
    try:
        # Submitted before the loop runs: one batch.
        batch = [w.submit(message(f"b{i}", app=QUIET_APP if i % 3 == 0 else APP))
                 for i in range(7)]
        for future in batch:
            await future
        assert sorted(asked) == [APP, QUIET_APP]
        assert rows.take_written() == 4  # APP's; none for the app that does not push
        # The next batch asks again: the answer may have changed meanwhile.
        await send(w, message("b7"))
        assert sorted(asked) == [APP, APP, QUIET_APP]
    finally:
        await w.stop()


async def test_a_job_comes_due_after_its_time(
        db: Database, writer: tuple[MessageWriter, PushJobRows]) -> None:
    w, _ = writer
    store = PushStore(db)
    before = now_ms()
    await send(w, message("m1"))
    # What the worker asks with push_delay 10 s: not yet.
    assert (await store.due_jobs(before - 10_000, 200)).jobs == []
    jobs_at, _ = await store.next_due()
    assert jobs_at is not None and before <= jobs_at <= now_ms()
    assert seqs((await store.due_jobs(now_ms(), 200)).jobs) == [(1, "")]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_message_before_a_due_one_is_due_with_it(
        db: Database, writer: tuple[MessageWriter, PushJobRows]) -> None:
    w, _ = writer
    store = PushStore(db)
    ahead = now_ms() + 30_000
    await send(w, message("imported", imported=ImportMode.REALTIME, time=ahead))
    assert (await store.due_jobs(now_ms(), 200)).jobs == []
    assert (await store.next_due())[0] == ahead
    await send(w, message("m2"))
    assert await record_due(store) == [(1, ""), (2, "")]
    assert (await store.next_due())[0] is None


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_newest_messages_deleted_under_a_step(
        db: Database, writer: tuple[MessageWriter, PushJobRows]) -> None:
    """SQLite gives a deleted newest message's rowid to the next one: a step
    that read before the delete must not move the pointer past it."""
    w, _ = writer
    store = PushStore(db)
    await send(w, message("m1"))
    await send(w, message("m2"))
    due = await store.due_jobs(now_ms(), 200)
    assert seqs(due.jobs) == [(1, ""), (2, "")]
    top = await scalar(db, "SELECT max(rowid) FROM messages")
    async with db.writer.begin() as conn:
        await conn.execute(text("DELETE FROM messages WHERE seq = 2"))
    await send(w, message("m3"))
    assert await scalar(db, "SELECT max(rowid) FROM messages") == top  # the same rowid
    with pytest.raises(PointerMoved):
        await store.finish_jobs(due.jobs, [], [], due.move)
    assert await record_due(store) == [(1, ""), (3, "")]
    assert (await store.due_jobs(now_ms(), 200)).jobs == []


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_failed_message_becomes_a_row_and_the_pointer_moves_on(
        db: Database, writer: tuple[MessageWriter, PushJobRows]) -> None:
    w, _ = writer
    store = PushStore(db)
    await send(w, message("m1"))
    await send(w, message("m2"))
    due = await store.due_jobs(now_ms(), 200)
    failed, done = due.jobs
    await store.finish_jobs([done], [], [], due.move, failed=[failed])
    [row] = (await store.due_jobs(now_ms(), 200)).jobs
    assert (row.seq, row.rowid, row.id > 0) == (1, 0, True)
    await send(w, message("m3"))
    # The row (by its id) and the message past the pointer, in one step.
    assert await record_due(store) == [(1, ""), (3, "")]
    assert (await store.due_jobs(now_ms(), 200)).jobs == []
    assert await scalar(db, "SELECT count(*) FROM push_jobs") == 0


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_going_back_to_0024_makes_rows_of_the_pending_messages(
        db: Database, writer: tuple[MessageWriter, PushJobRows]) -> None:
    w, _ = writer
    store = PushStore(db)
    await send(w, message("m1"))
    assert await record_due(store) == [(1, "")]
    await send(w, message("m2", push='{"title":"T","text":"","ext":""}'))
    await w.stop()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))

    def to(conn: Connection, revision: str) -> None:
        config.attributes["connection"] = conn
        (command.upgrade if revision == "head" else command.downgrade)(config, revision)

    async with db.writer.begin() as conn:
        await conn.run_sync(to, "0024")
    rows = await db.read(lambda conn: conn.exec_driver_sql(
        "SELECT seq, options FROM push_jobs").all())
    assert [tuple(r) for r in rows] == [(2, '{"title":"T","text":"","ext":""}')]
    async with db.writer.begin() as conn:
        await conn.run_sync(to, "head")
    # Back at the head: the rows are the jobs, no message is past the pointer.
    assert seqs((await store.due_jobs(now_ms(), 200)).jobs) == [
        (2, '{"title":"T","text":"","ext":""}')]
    assert (await store.due_jobs(now_ms(), 200)).move is None
