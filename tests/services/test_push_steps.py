"""A push worker's step decides all its jobs (and checks all its sends)
with a fixed number of reads, whatever their count (services/
push_decisions.py, store/push_reads.py), on SQLite and PostgreSQL, and
decides them as one job at a time did: a muted receiver, one who read up
to the message and one with no device get nothing; the badges are the
unread totals; a job whose deciding fails is handed back and the others
are decided; a send read or recalled since is no longer due."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import pytest

from tidings.bus.local import LocalBus
from tidings.config import Settings
from tidings.domain.clock import now_ms
from tidings.domain.ids import ConversationKey, ConversationKind, Identity
from tidings.domain.push import PRIVATE_TEXT, Channel, PushOptions
from tidings.domain.records import Committed, NewMessage
from tidings.services import push_worker
from tidings.services.callbacks import CallbackService
from tidings.services.push_decisions import Decisions, NewSend
from tidings.services.push_worker import PushWorker
from tidings.store import leases, push_reads
from tidings.store.callbacks import CallbackStore
from tidings.store.engine import Database
from tidings.store.prepared import Prepared
from tidings.store.push import PushStore, Send, SendOutcome
from tidings.store.push_jobs import Job, PushJobRows
from tidings.store.push_reads import StepReceivers
from tidings.store.schema import push_sends
from tidings.store.writer import MessageWriter


async def decide_all(decisions: Decisions, jobs: Sequence[Job], sends: list[NewSend],
                     events: list[tuple[int, str, str]],
                     first: StepReceivers | None = None) -> list[Job]:
    """A step's jobs decided as the worker decides them (its reads once,
    then each job; a job alone when they fail), without its writes: the
    jobs whose deciding failed (they added nothing)."""
    step = await decisions.read(jobs, first) if jobs else None
    return [job for job in jobs if not await decisions.decide_one(job, step, sends, events)]


APP = 1400000061
BODY = orjson.dumps([{"type": "text", "text": "hi"}]).decode()


@pytest.fixture
async def writer(db: Database) -> AsyncIterator[MessageWriter]:
    w = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    PushJobRows(db, lambda app: True).attach(w)
    w.start()
    try:
        yield w
    finally:
        await w.stop()


async def send(w: MessageWriter, to: str, client_msg_id: str) -> Committed:
    key = ConversationKey(APP, ConversationKind.C2C, *sorted(("alice", to)))
    done = await w.submit(NewMessage(key, "alice", client_msg_id, BODY, ""))
    assert isinstance(done, Committed) and not done.duplicate
    return done


def counted_reads(db: Database) -> list[int]:
    """Count the ``Database.read`` hand-offs from now on (one list item each)."""
    reads: Any = db.reads
    run = reads.run
    seen: list[int] = []

    async def counted(work: Any) -> Any:
        seen.append(1)
        return await run(work)

    reads.run = counted
    return seen


async def to_bob(db: Database, w: MessageWriter, count: int) -> PushStore:
    """A store where bob has a device and ``count`` messages from alice."""
    store = PushStore(db)
    await store.register(APP, "bob", "bob-phone", Channel.WEBPUSH, '{"endpoint": "b"}', False)
    for n in range(count):
        await send(w, "bob", f"m{n}")
    return store


def bare_worker(db: Database, store: PushStore) -> PushWorker:
    """A worker (not started) whose app always pushes."""
    callbacks = CallbackService(CallbackStore(db), Settings())

    async def pushes(sdkappid: int) -> bool:
        return True

    return PushWorker(store, callbacks, Settings(push_delay=0), Decisions(
        store, LocalBus(), callbacks), pushes, pushes)  # type: ignore[arg-type]


async def sql(db: Database, statement: str, *params: object) -> None:
    async with db.writer.begin() as conn:
        await conn.exec_driver_sql(db.driver_sql(statement), tuple(params))


async def stopped_at_the_second_write(db: Database, store: PushStore,
                                      monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A worker's jobs step whose second write fails (as a kill between two
    pieces would leave it: on SQLite); the sends of each write tried."""
    writes: list[int] = []
    finish = store.finish_jobs

    async def stopped(jobs: Any, sends: Any, *args: Any) -> None:
        writes.append(len(sends))
        if len(writes) == 2:
            raise RuntimeError("stopped between two pieces")
        await finish(jobs, sends, *args)

    monkeypatch.setattr(store, "finish_jobs", stopped)
    if db.dialect == "sqlite":
        with pytest.raises(RuntimeError, match="between two pieces"):
            await bare_worker(db, store)._jobs_step()
    else:
        await bare_worker(db, store)._jobs_step()
    return writes


async def test_a_step_of_many_jobs_reads_twice_and_decides_each_as_alone(
        db: Database, writer: MessageWriter, caplog: pytest.LogCaptureFixture) -> None:
    store = PushStore(db)
    for user in ("bob", "carol", "dave"):
        await store.register(APP, user, f"{user}-phone", Channel.WEBPUSH,
                             f'{{"endpoint": "{user}"}}', False)
    to_bob = [await send(writer, "bob", f"b{n}") for n in range(3)]
    to_carol = await send(writer, "carol", "c1")
    to_dave = await send(writer, "dave", "d1")
    await send(writer, "erin", "e1")  # no device, no callback channel: nothing
    # Carol read it; Dave muted the conversation.
    await sql(db, "UPDATE conversation_members SET read_seq = ?, read_msg_no = ?"
              " WHERE conversation_id = ? AND user_id = 'carol'",
              to_carol.message.seq, to_carol.message.seq, to_carol.message.conversation_id)
    await sql(db, "INSERT INTO conversation_settings (conversation_id, user_id, sdkappid,"
              " muted, updated_at) VALUES (?, 'dave', ?, 1, 0)",
              to_dave.message.conversation_id, APP)
    due = await store.due_jobs(now_ms(), 200)
    assert len(due.jobs) == 6
    # One job's options cannot be read: it alone fails.
    broken = dataclasses.replace(due.jobs[1], options="{not json")
    jobs = [due.jobs[0], broken, *due.jobs[2:]]
    decisions = Decisions(store, LocalBus(), CallbackService(CallbackStore(db), Settings()))
    sends: list[NewSend] = []
    events: list[tuple[int, str, str]] = []
    reads = counted_reads(db)
    failed = await decide_all(decisions, jobs, sends, events)
    assert len(reads) == 2  # the contexts and settings; the devices and badges
    assert failed == [broken]
    # A process alone reads the contexts with the due jobs: one read more
    # for the whole step, and the same decisions.
    again: list[NewSend] = []
    reads.clear()
    due = await store.due_jobs(now_ms(), 200)
    assert due.first is not None
    assert await decide_all(decisions, jobs, again, events, due.first) == [broken]
    assert len(reads) == 2
    assert again == sends
    assert events == []
    pushed = [(s.user_id, s.device_id, s.job.seq, orjson.loads(s.payload)) for s in sends]
    assert [(user, device, seq) for user, device, seq, _ in pushed] == [
        ("bob", "bob-phone", to_bob[0].message.seq), ("bob", "bob-phone", to_bob[2].message.seq)]
    # Bob's badge: his three unread messages, in each push of the step.
    assert [p["badge"] for *_, p in pushed] == [3, 3]
    assert [p["msg_id"] for *_, p in pushed] == [
        f"{m.message.conversation_id}-{m.message.seq}" for m in (to_bob[0], to_bob[2])]

    # The sends step: all its sends' checks, devices and settings in one read.
    await store.finish_jobs([j for j in jobs if j is not broken],
                            [(s.job, s.sdkappid, s.user_id, s.device_id, s.payload)
                             for s in sends], events, due.move, [broken])
    queued = await store.due_sends(now_ms(), 64)
    assert len(queued) == 2
    # Read with their checks, devices and settings (nothing claimed).
    reads.clear()
    read = await store.due_sends_checked(now_ms(), 64, upcoming=True)
    same, checked = read.sends, read.context
    assert same == queued and checked is not None and len(reads) == 1
    # With what comes due after them, for the idle sleep (no read of its
    # own): the failed job's row; no send but these two.
    jobs_at, sends_at = await store.next_due()
    assert sends_at is not None and read.upcoming == (jobs_at, None)
    assert checked.due == {s.id for s in queued} and len(checked.devices) == 1
    # Bob read the first meanwhile.
    first = to_bob[0].message
    await sql(db, "UPDATE conversation_members SET read_seq = ?, read_msg_no = ?"
              " WHERE conversation_id = ? AND user_id = 'bob'",
              first.seq, first.seq, first.conversation_id)
    reads.clear()
    ctx = await store.sends_context([(s, s.user_id) for s in queued])
    assert len(reads) == 1
    assert ctx.due == {s.id for s in queued if s.seq != first.seq}
    [device] = ctx.devices.values()
    assert (device.user_id, device.device_id) == ("bob", "bob-phone")
    assert set(ctx.settings) == {APP}
    # Recalled: no longer due either.
    await sql(db, "UPDATE messages SET state = 2 WHERE conversation_id = ? AND seq = ?",
              first.conversation_id, to_bob[2].message.seq)
    assert (await store.sends_context([(s, s.user_id) for s in queued])).due == set()
    # On PostgreSQL each of those reads' statements per job or send was one
    # for all (not each alone after the one failed: a round trip per job).
    assert "each alone" not in caplog.text


class Phone:
    """A connected device, as the bus holds it (push looks at presence only)."""

    def push(self, frame: bytes, conversation_id: int | None = None, seq: int = 0) -> None:
        pass


async def test_a_step_reads_the_contexts_of_its_jobs_with_a_receiver_away_only(
        db: Database, writer: MessageWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job whose receivers are all in the foreground costs the step's
    first read only (its receivers who may need a push): no context, no
    devices; the contexts read are those of the jobs with a receiver away
    (perf-pgpush), and those jobs are pushed as before."""
    store = PushStore(db)
    for user in ("bob", "carol"):
        await store.register(APP, user, f"{user}-phone", Channel.WEBPUSH,
                             f'{{"endpoint": "{user}"}}', False)
    to_bob = [await send(writer, "bob", f"b{n}") for n in range(3)]
    to_carol = await send(writer, "carol", "c1")
    bus = LocalBus()
    phone = Phone()
    bus.attach(Identity(APP, "bob"), phone)  # Bob is in the foreground
    decisions = Decisions(store, bus, CallbackService(CallbackStore(db), Settings()))
    asked: list[list[int]] = []
    contexts_of = push_reads.contexts_of

    def counted(conn: Any, jobs: Any) -> Any:
        asked.append([(job.conversation_id, job.seq) for job in jobs])
        return contexts_of(conn, jobs)

    monkeypatch.setattr(push_reads, "contexts_of", counted)
    jobs = (await store.due_jobs(now_ms(), 200)).jobs
    bobs = [job for job in jobs if job.conversation_id == to_bob[0].message.conversation_id]
    assert len(bobs) == 3
    reads = counted_reads(db)
    sends: list[NewSend] = []
    assert await decide_all(decisions, bobs, sends, []) == []
    assert (len(reads), asked, sends) == (1, [], [])
    # Bob's app goes to the background: his jobs are read and pushed.
    bus.set_away(Identity(APP, "bob"), phone, True)
    reads.clear()
    assert await decide_all(decisions, jobs, sends, []) == []
    assert len(reads) == 2
    assert sorted(asked[0]) == sorted((job.conversation_id, job.seq) for job in jobs)
    assert sorted((s.user_id, s.job.seq) for s in sends) == sorted(
        [("bob", m.message.seq) for m in to_bob] + [("carol", to_carol.message.seq)])
    # Back in the foreground: Carol's job alone has its context read.
    bus.set_away(Identity(APP, "bob"), phone, False)
    asked.clear()
    sends.clear()
    assert await decide_all(decisions, jobs, sends, []) == []
    assert asked == [[(to_carol.message.conversation_id, to_carol.message.seq)]]
    assert [(s.user_id, orjson.loads(s.payload)["body"]) for s in sends] == [("carol", "alice: hi")]


HOME = 1400000062


class Links:
    """Bob of APP is linked to the home account h-bob (services/links.py's
    part that push reads)."""

    home_sdkappid = HOME

    def home_of(self, identity: Identity) -> Identity | None:
        return Identity(HOME, "h-bob") if identity == Identity(APP, "bob") else None

    def linked_identities(self, home_user: str) -> list[Identity]:
        return [Identity(APP, "bob")] if home_user == "h-bob" else []

    def has_links(self, sdkappid: int) -> bool:
        return sdkappid == APP

    async def app_card(self, sdkappid: int) -> dict[str, Any]:
        return {"name": "Shop"}


async def test_a_linked_receivers_home_devices_are_read_with_the_step(
        db: Database, writer: MessageWriter) -> None:
    """The home account's devices, settings and badge (its own unread and
    its linked identities') are in the step's second read, not per job."""
    store = PushStore(db)
    await store.register(HOME, "h-bob", "h-bob-phone", Channel.WEBPUSH, '{"endpoint": "h"}',
                         False)
    own = ConversationKey(HOME, ConversationKind.C2C, "h-bob", "h-dan")
    assert isinstance(await writer.submit(NewMessage(own, "h-dan", "h1", BODY, "")), Committed)
    to_bob = [await send(writer, "bob", f"b{n}") for n in range(2)]
    due = await store.due_jobs(now_ms(), 200)
    jobs = [job for job in due.jobs if job.sdkappid == APP]
    assert len(jobs) == 2
    decisions = Decisions(store, LocalBus(), CallbackService(CallbackStore(db), Settings()))
    decisions.links = Links()
    sends: list[NewSend] = []
    reads = counted_reads(db)
    assert await decide_all(decisions, jobs, sends, [], None) == []
    assert len(reads) == 2  # the contexts; the devices, badges and home settings
    assert [(s.sdkappid, s.user_id, s.device_id, s.job.seq) for s in sends] == [
        (HOME, "h-bob", "h-bob-phone", m.message.seq) for m in to_bob]
    pushed = [orjson.loads(s.payload) for s in sends]
    # Bob's two unread in the app and h-bob's own one.
    assert [p["badge"] for p in pushed] == [3, 3]
    assert (pushed[0]["title"], pushed[0]["body"]) == ("Shop", "alice: hi")
    assert pushed[0]["conversation_id"] == f"app:{APP}:c2c_alice"


async def test_a_steps_statements_per_job_are_one_for_all_on_postgresql(
        db: Database, writer: MessageWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a step's statements per job (the message, the
    receivers) and per send (the check, the device) are one statement for
    all (``Prepared.rows_each``: a round trip each was a burst's pace); on
    SQLite the receivers of the messages past the pointer one statement
    for all (by their rowids), the rest one each."""
    store = PushStore(db)
    await store.register(APP, "bob", "bob-phone", Channel.WEBPUSH, '{"endpoint": "b"}', False)
    for n in range(4):
        await send(writer, "bob", f"s{n}")
    jobs = (await store.due_jobs(now_ms(), 200)).jobs
    singles: list[int] = []
    rows = Prepared.rows

    def counted(self: Prepared, conn: Any, params: Any) -> Any:
        singles.append(1)
        return rows(self, conn, params)

    monkeypatch.setattr(Prepared, "rows", counted)
    ctx = await store.step_receivers(jobs)
    assert ctx.receivers == [["bob"]] * 4
    pg = db.dialect == "postgresql"
    # The app's settings, and on SQLite the receivers of the four messages.
    assert len(singles) == (1 if pg else 1 + 1)


async def test_a_home_apps_sends_carry_their_messages_app_in_the_steps_read(
        db: Database, writer: MessageWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    """The home app's sends (to h-bob's device about Bob's messages in the
    app) answer to the linked identity: the app of each send's message
    comes with the due sends' read, not in a read per send."""
    store = PushStore(db)
    await store.register(HOME, "h-bob", "h-bob-phone", Channel.WEBPUSH, '{"endpoint": "h"}',
                         False)
    to_bob = [await send(writer, "bob", f"w{n}") for n in range(3)]
    jobs = (await store.due_jobs(now_ms(), 200)).jobs
    callbacks = CallbackService(CallbackStore(db), Settings())
    decisions = Decisions(store, LocalBus(), callbacks)
    decisions.links = Links()
    sends: list[NewSend] = []
    assert await decide_all(decisions, jobs, sends, [], None) == []
    await store.finish_jobs(jobs, [(s.job, s.sdkappid, s.user_id, s.device_id, s.payload)
                                   for s in sends], [])
    read = await store.due_sends_checked(now_ms(), 64, HOME)
    assert [(s.sdkappid, s.conversation_app) for s in read.sends] == [(HOME, APP)] * 3
    if db.dialect == "postgresql":
        # A cluster's claimed sends: their apps in one read for the step.
        claimed = PushStore(db, lease_ms=60_000)
        reads = counted_reads(db)
        taken = (await claimed.due_sends_checked(now_ms(), 64, HOME)).sends
        assert [(s.id, s.conversation_app) for s in taken] == [
            (s.id, APP) for s in read.sends]
        assert len(reads) == 1
        # Due again at once, for the worker's step below.
        await leases.release(db, push_sends, "next_attempt_at", [s.id for s in taken],
                             now_ms(), 60_000)

    async def never(sdkappid: int) -> Any:
        raise AssertionError("not asked in a sends step")

    worker = PushWorker(store, callbacks, Settings(), decisions, never, never)
    attempted: list[tuple[int, Identity | None, bool]] = []

    async def attempt(send: Send, receiver: Identity | None, ctx: Any) -> SendOutcome:
        attempted.append((send.seq, receiver, send.id in ctx.due))
        return SendOutcome(send.id, "sent")

    monkeypatch.setattr(worker, "_attempt", attempt)
    reads = counted_reads(db)
    assert await worker._sends_step() is False
    # The due sends (and the others' checks); the home app's sends' checks.
    assert len(reads) == 2
    assert attempted == [(m.message.seq, Identity(APP, "bob"), True) for m in to_bob]
    assert await store.due_sends(now_ms(), 64) == []


async def test_steps_grow_while_they_come_back_full_and_shrink_once_caught_up(
        db: Database, writer: MessageWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the due jobs fill a step (a backlog) the next step takes twice
    as many, up to the cap; a step that is not full takes the first size
    again (perf-pgpush: at saturation a step's time is the loop's turns,
    not its jobs). Every job is decided once."""
    monkeypatch.setattr(push_worker, "JOBS_PER_STEP", 2)
    monkeypatch.setattr(push_worker, "MAX_JOBS_PER_STEP", 8)
    store = await to_bob(db, writer, 15)
    worker = bare_worker(db, store)
    limits: list[int] = []
    due_jobs = store.due_jobs

    async def counted(now: int, limit: int) -> Any:
        limits.append(limit)
        return await due_jobs(now, limit)

    monkeypatch.setattr(store, "due_jobs", counted)
    while await worker._jobs_step():
        pass
    # 2 + 4 + 8 (each full), then the last 1: not full, back to the first size.
    assert limits == [2, 4, 8, 8]
    assert worker._step == 2
    assert sorted(s.seq for s in await store.due_sends(now_ms(), 64)) == list(range(1, 16))


async def test_a_steps_messages_read_by_their_rowids_are_as_one_job_at_a_time(
        db: Database, writer: MessageWriter) -> None:
    """On SQLite a step's messages past the pointer have their receivers
    read by one statement over their rowids (push_reads.step_receivers)
    and their contexts by their rowids (contexts_of): the same as the
    statement per job, for a receiver who read it, one who muted it, a
    recalled message and a row job beside them; each job gets its own
    message's receivers when the jobs are out of order with others' in
    their span; a rowid now another message's gives no context. On
    PostgreSQL (rows only) the statement per job."""
    made = [await send(writer, "bob", "b1"), await send(writer, "carol", "c1")]
    await sql(db, "INSERT INTO conversation_settings (conversation_id, user_id, sdkappid,"
              " muted, updated_at) VALUES (?, 'carol', ?, 1, 0)",
              made[1].message.conversation_id, APP)
    made += [await send(writer, "dave", "d1"), await send(writer, "bob", "b2"),
             await send(writer, "erin", "e1")]
    await sql(db, "UPDATE conversation_members SET read_seq = ? WHERE conversation_id = ?"
              " AND user_id = 'dave'", made[2].message.seq, made[2].message.conversation_id)
    await sql(db, "UPDATE messages SET state = 2 WHERE conversation_id = ? AND seq = ?",
              made[3].message.conversation_id, made[3].message.seq)
    # A row job (a message whose deciding once failed, on SQLite), due first.
    await sql(db, "INSERT INTO push_jobs (sdkappid, conversation_id, seq, options, due_at)"
              " VALUES (?, ?, ?, '', 0)", APP, made[0].message.conversation_id,
              made[0].message.seq)
    due = await PushStore(db).due_jobs(now_ms(), 200)
    assert due.first is not None
    assert due.first.receivers == [["bob"], ["bob"], [], [], [], ["erin"]]
    by_job = await db.read(lambda conn: push_reads.step_receivers(
        conn, [dataclasses.replace(job, rowid=0) for job in due.jobs]))
    assert due.first.receivers == by_job.receivers
    contexts = await db.read(lambda conn: push_reads.contexts_of(conn, due.jobs))
    assert contexts == await db.read(lambda conn: push_reads.contexts_of(
        conn, [dataclasses.replace(job, rowid=0) for job in due.jobs]))
    assert [contexts[m.message.conversation_id, m.message.seq].b for m in made] == [
        "bob", "carol", "dave", "bob", "erin"]
    if db.dialect == "sqlite":
        assert [job.rowid > 0 for job in due.jobs] == [False] + [True] * 5
        # Erin's job before bob's first, three others' messages between
        # them in the span read: each its own receivers, in the jobs' order.
        two = await db.read(lambda conn: push_reads.step_receivers(
            conn, [due.jobs[5], due.jobs[1]]))
        assert two.receivers == [["erin"], ["bob"]]
        # Erin's job as if its message had been deleted and its rowid given
        # to bob's second: no context.
        moved = dataclasses.replace(due.jobs[5], rowid=due.jobs[4].rowid)
        assert await db.read(lambda conn: push_reads.contexts_of(conn, [moved])) == {}


async def test_a_step_in_pieces_decides_each_job_once_across_a_stop_between_them(
        db: Database, writer: MessageWriter, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """On SQLite a step is written in pieces (``PIECE_ROWS`` rows each),
    each moving the pointer past its own messages: a worker stopped after
    the first piece (its second write fails, as a kill there would leave
    it) leaves the rest to be decided again, and every job has its push
    once. Each piece hands the pointer on to the next: the jobs left are
    one step, written in pieces, with no piece finding the pointer moved.
    PostgreSQL writes a step at once."""
    monkeypatch.setattr(push_worker, "PIECE_ROWS", 2)
    store = await to_bob(db, writer, 7)
    finish = store.finish_jobs
    writes = await stopped_at_the_second_write(db, store, monkeypatch)
    sqlite = db.dialect == "sqlite"
    # SQLite: the first piece (two sends) stands; PostgreSQL: one write.
    assert writes == ([2, 2] if sqlite else [7])
    assert len(await store.due_sends(now_ms(), 64)) == (2 if sqlite else 7)
    writes.clear()
    monkeypatch.setattr(store, "finish_jobs", finish)
    again = bare_worker(db, store)
    caplog.set_level(logging.INFO, logger="tidings.services.push")
    # The five jobs left fit in one step (not full): its pieces each start
    # where the last left the pointer.
    assert await again._jobs_step() is False
    assert "deciding again" not in caplog.text
    assert sorted(s.seq for s in await store.due_sends(now_ms(), 64)) == list(range(1, 8))
    assert (await store.due_jobs(now_ms(), 200)).jobs == []


@pytest.mark.parametrize("reads_fail", [False, True], ids=["step-read", "reads-alone"])
async def test_a_broken_job_in_a_piece_fails_alone_across_a_stop(
        db: Database, writer: MessageWriter, monkeypatch: pytest.MonkeyPatch,
        reads_fail: bool) -> None:
    """The worker decides a step a job at a time (``Decisions.decide_one``,
    as this module's ``decide_all`` does): a job whose deciding fails (its options cannot
    be read) in the first piece is a ``push_jobs`` row after it, and a stop
    before the second piece is written (SQLite) leaves the other jobs to be
    decided again: after a restart each has exactly one send, the broken
    job still a row. With the step's reads failing (``reads-alone``) each
    job has reads of its own, and the same outcome."""
    monkeypatch.setattr(push_worker, "PIECE_ROWS", 2)
    store = await to_bob(db, writer, 7)
    if db.dialect == "sqlite":
        await sql(db, "UPDATE messages SET push_options = '{not json' WHERE seq = 2")
    else:
        await sql(db, "UPDATE push_jobs SET options = '{not json' WHERE seq = 2")
    if reads_fail:
        reach = store.reach

        async def failing(*args: Any) -> Any:
            if len(args[-1]) > 1:
                raise RuntimeError("the step's second read failed")
            return await reach(*args)

        monkeypatch.setattr(store, "reach", failing)
    finish = store.finish_jobs
    writes = await stopped_at_the_second_write(db, store, monkeypatch)
    sqlite = db.dialect == "sqlite"
    # SQLite: the first piece is the first job's send and the broken job.
    assert writes == ([1, 2] if sqlite else [6])

    async def rows() -> list[int]:
        return await db.read(lambda conn: [int(seq) for seq, in conn.exec_driver_sql(
            "SELECT seq FROM push_jobs").all()])

    assert await rows() == [2]
    assert [s.seq for s in await store.due_sends(now_ms(), 64)] == (
        [1] if sqlite else [1, 3, 4, 5, 6, 7])
    monkeypatch.setattr(store, "finish_jobs", finish)
    again = bare_worker(db, store)
    assert await again._jobs_step() is False
    assert await again._jobs_step() is False  # the broken row fails again, alone
    assert sorted(s.seq for s in await store.due_sends(now_ms(), 64)) == [1, 3, 4, 5, 6, 7]
    assert await rows() == [2]


async def test_many_receivers_devices_and_badges_are_as_a_few_at_a_time(
        db: Database, writer: MessageWriter) -> None:
    """A step's second read for more than ``FEW`` receivers (on SQLite one
    statement each for their devices and badges, the users a JSON array;
    on PostgreSQL IN lists) answers what the statement per user answers:
    two devices of one user, none of others, another app's device left
    out, badges summed over a user's conversations, no badge for a user
    with none, and user ids that JSON escapes."""
    users = [f"u{n:02}" for n in range(36)] + ['q"uote\\d', "ünï", "nobody"]
    store = PushStore(db)
    for n, user in enumerate(users[:-1]):
        if n % 5 != 4:  # every fifth has no device
            await store.register(APP, user, f"{user}-phone", Channel.APNS, f"{n:064x}", False)
    await store.register(APP, "u00", "u00-tablet", Channel.FCM, "tablet", True)
    await store.register(APP + 1, "u01", "u01-other", Channel.APNS, "other", False)
    for n, user in enumerate(users[:-1]):
        for m in range(n % 3 + 1):
            await send(writer, user, f"{user}-{m}")
    # A second conversation for u02 (with bob), read in part by u02.
    bob = ConversationKey(APP, ConversationKind.C2C, "bob", "u02")
    for m in range(4):
        await writer.submit(NewMessage(bob, "bob", f"bob-{m}", BODY, ""))
    await sql(db, "UPDATE conversation_members SET read_msg_no = 1 WHERE user_id = 'u02'"
              " AND conversation_id = (SELECT id FROM conversations WHERE a = 'bob')")
    assert len(users) > push_reads.FEW

    def few_at_a_time(conn: Any) -> tuple[list[Any], dict[str, int]]:
        devices, totals = [], {}
        for start in range(0, len(users), push_reads.FEW):
            part = users[start:start + push_reads.FEW]
            devices += push_reads.devices_of(conn, APP, part)
            totals.update(push_reads.unread_totals(conn, APP, part))
        return devices, totals

    def all_at_once(conn: Any) -> tuple[list[Any], dict[str, int]]:
        return push_reads.devices_of(conn, APP, users), push_reads.unread_totals(conn, APP, users)

    few, many = await db.read(few_at_a_time), await db.read(all_at_once)
    def key(d: Any) -> tuple[str, str]:
        return d.user_id, d.device_id

    assert sorted(many[0], key=key) == sorted(few[0], key=key)
    assert many[1] == few[1]
    assert len(many[0]) == 32 and {d.sdkappid for d in many[0]} == {APP}
    assert {d.device_id for d in many[0] if d.user_id == "u00"} == {"u00-phone", "u00-tablet"}
    assert [d.channel for d in many[0] if d.device_id == "u00-tablet"] == [Channel.FCM]
    assert (many[1]["u00"], many[1]["u02"], many[1]['q"uote\\d'], many[1]["ünï"]) == (1, 6, 1, 2)
    assert "nobody" not in many[1] and len(many[1]) == len(users) - 1


async def test_a_sends_steps_checks_of_many_are_as_one_at_a_time(
        db: Database, writer: MessageWriter) -> None:
    """A sends step's checks and devices (``sends_context``: on SQLite one
    statement each for all the sends, a JSON array) answer as each send
    checked alone: a send to a receiver who read, one who muted, a
    recalled message and a gone device are not due or have no device;
    two sends to one device; a user id that JSON escapes; a send that
    answers to another receiver's cursor (a home account's)."""
    odd = 'q"uo\\te'
    store = PushStore(db)
    for user in ("bob", "carol", "dave", "erin", odd):
        await store.register(APP, user, f"{user}-phone", Channel.APNS, f"t-{user}", user == "bob")
    made = {user: await send(writer, user, f"{user}-1") for user in
            ("bob", "carol", "dave", "erin", odd)}
    made["bob2"] = await send(writer, "bob", "bob-2")
    await sql(db, "INSERT INTO conversation_settings (conversation_id, user_id, sdkappid,"
              " muted, updated_at) VALUES (?, 'carol', ?, 1, 0)",
              made["carol"].message.conversation_id, APP)
    await sql(db, "UPDATE conversation_members SET read_seq = ? WHERE conversation_id = ?"
              " AND user_id = 'dave'", made["dave"].message.seq,
              made["dave"].message.conversation_id)
    await sql(db, "UPDATE messages SET state = 2 WHERE conversation_id = ? AND seq = ?",
              made["erin"].message.conversation_id, made["erin"].message.seq)

    def of(n: int, user: str, device: str, at: str, receiver: str) -> tuple[
            int, int, str, str, int, int, str]:
        message = made[at].message
        return n, APP, user, device, message.conversation_id, message.seq, receiver

    sends = [of(1, "bob", "bob-phone", "bob", "bob"), of(2, "carol", "carol-phone", "carol",
             "carol"), of(3, "dave", "dave-phone", "dave", "dave"),
             of(4, "erin", "erin-phone", "erin", "erin"), of(5, odd, f"{odd}-phone", odd, odd),
             of(6, "bob", "bob-phone", "bob2", "bob"), of(7, "bob", "bob-gone", "bob2", "bob"),
             # Carol's phone for a message to bob, answering to bob's cursor.
             of(8, "carol", "carol-phone", "bob2", "bob"),
             of(9, "dave", "dave-phone", "dave", "bob")]  # bob is no member there

    def alone(conn: Any) -> list[Any]:
        return [push_reads.sends_context(conn, [one]) for one in sends]

    many = await db.read(lambda conn: push_reads.sends_context(conn, sends))
    each_alone = await db.read(alone)
    merged = each_alone[0]
    for other in each_alone[1:]:
        merged = merged.merged(other)
    assert many == merged
    assert many.due == {1, 5, 6, 7, 8, 9}
    assert sorted(many.devices) == sorted([(APP, "bob", "bob-phone"), (APP, odd, f"{odd}-phone"),
                                           (APP, "carol", "carol-phone"),
                                           (APP, "dave", "dave-phone")])
    assert many.devices[APP, "bob", "bob-phone"].private_previews
    assert many.devices[APP, "bob", "bob-phone"].channel is Channel.APNS
    assert set(many.settings) == {APP}


async def test_a_steps_jobs_decided_together_are_each_as_alone(
        db: Database, writer: MessageWriter) -> None:
    """A step decides its jobs with what it found once for the step (each
    receiver's presence and home account asked once, the jobs' options read
    once per text, a job's text made once for its devices, perf-pushdecide):
    each job's sends are those it makes decided alone, in a step whose jobs
    have the same receivers, different options, a receiver in the
    foreground, a linked receiver and a device that wants private
    previews."""
    store = PushStore(db)
    await store.register(APP, "bob", "bob-phone", Channel.WEBPUSH, '{"endpoint": "b1"}', False)
    await store.register(APP, "bob", "bob-tablet", Channel.WEBPUSH, '{"endpoint": "b2"}', True)
    await store.register(APP, "carol", "carol-phone", Channel.WEBPUSH, '{"endpoint": "c"}',
                         False)
    await store.register(APP, "dave", "dave-phone", Channel.WEBPUSH, '{"endpoint": "d"}',
                         False)
    await store.register(HOME, "h-bob", "h-bob-phone", Channel.WEBPUSH, '{"endpoint": "h"}',
                         False)
    titled = PushOptions(title="Sale", text="50% off", ext="x1").stored()
    other = PushOptions(title="News", ext="x2").stored()
    for n, options in enumerate([titled, "", other, titled, ""]):
        for to in ("bob", "carol", "dave"):
            key = ConversationKey(APP, ConversationKind.C2C, *sorted(("alice", to)))
            done = await writer.submit(NewMessage(key, "alice", f"{to}{n}", BODY, "",
                                                  push=options))
            assert isinstance(done, Committed)
    bus = LocalBus()
    bus.attach(Identity(APP, "dave"), Phone())  # in the foreground: no push
    decisions = Decisions(store, bus, CallbackService(CallbackStore(db), Settings()))
    decisions.links = Links()
    due = await store.due_jobs(now_ms(), 200)
    jobs = [job for job in due.jobs if job.sdkappid == APP]
    assert len(jobs) == 15
    together: list[NewSend] = []
    assert await decide_all(decisions, jobs, together, []) == []
    alone: list[NewSend] = []
    for job in jobs:
        assert await decide_all(decisions, [job], alone, []) == []
    assert together == alone
    pushed = {(s.job.seq, s.job.conversation_id, s.sdkappid, s.device_id): orjson.loads(s.payload)
              for s in together}
    assert len(pushed) == len(together) == 5 * 4  # bob's two and his home's, carol's
    assert {device for *_, device in pushed} == {
        "bob-phone", "bob-tablet", "carol-phone", "h-bob-phone"}
    texts = {(device, p["title"], p["body"], p["ext"]) for (*_, device), p in pushed.items()}
    assert texts == {
        ("bob-phone", "Sale", "50% off", "x1"), ("carol-phone", "Sale", "50% off", "x1"),
        ("bob-phone", "", "alice: hi", ""), ("carol-phone", "", "alice: hi", ""),
        ("bob-phone", "News", "alice: hi", "x2"), ("carol-phone", "News", "alice: hi", "x2"),
        # The tablet wants private previews: no title, no content, whatever the options.
        ("bob-tablet", "", PRIVATE_TEXT, "x1"), ("bob-tablet", "", PRIVATE_TEXT, ""),
        ("bob-tablet", "", PRIVATE_TEXT, "x2"),
        ("h-bob-phone", "Shop: Sale", "50% off", "x1"), ("h-bob-phone", "Shop", "alice: hi", ""),
        ("h-bob-phone", "Shop: News", "alice: hi", "x2")}


async def test_a_sends_steps_outcomes_are_recorded_each_on_its_send(db: Database) -> None:
    """A sends step's outcomes (``PushStore.record``: driver SQL, one
    UPDATE over arrays on PostgreSQL, perf-pushdecide): a sent or dropped
    send is gone, a retry is pending again with its error, next attempt and
    one attempt more, a failure is failed; a send of no outcome is as it
    was, and an error is cut to ``MAX_ERROR``."""
    store = PushStore(db)
    for n, device in enumerate(["sent", "dropped", "retry", "failed", "again", "left"]):
        await sql(db, "INSERT INTO push_sends (id, sdkappid, user_id, device_id, conversation_id,"
                  " seq, payload, status, attempts, next_attempt_at, last_error, created_at)"
                  " VALUES (?, ?, 'bob', ?, 1, ?, '{}', 'pending', ?, 5, '', 0)",
                  n + 1, APP, device, n + 1, 2 if device == "again" else 0)
    await store.record([SendOutcome(1, "sent"), SendOutcome(2, "dropped"),
                        SendOutcome(3, "retry", "503", 1_000),
                        SendOutcome(4, "failed", "gave up", 2_000),
                        SendOutcome(5, "retry", "x" * 600, 3_000)])
    left = {s["device_id"]: (s["status"], s["attempts"], s["last_error"], s["next_attempt_at"])
            for s in await store.sends_of(APP, "bob")}
    assert left == {"retry": ("pending", 1, "503", 1_000),
                    "failed": ("failed", 1, "gave up", 2_000),
                    "again": ("pending", 3, "x" * 500, 3_000), "left": ("pending", 0, "", 5)}
