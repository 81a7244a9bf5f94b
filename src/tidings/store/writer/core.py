"""The queue and the commit loop: every request that arrives while one
transaction commits goes into the next one, and nobody is acked before the
commit that holds them.

A batch, in one transaction: the sends stored before are looked up
(messages.py; not for a batch of sends to conversations in memory, the
short way: a resend fails its insert on the client id's unique key and the
batch goes the long way, see ``_commit``), the batch's conversations brought into memory
(conversations.py), then each request in order: a message gets its seq and
row (messages.py), a recall or edit is judged and applied (changes.py), a
group operation is judged and written (group_ops.py). After each entry the
registered features collect their rows (rows.py); theirs and the messages'
are written once per batch, then the conversations' counters.

A batch of sends to conversations in memory on SQLite (the usual batch)
takes the known way (``_write_known``): the short way's steps without the
long way's lists, sets, load and answers' lookup (bench/journal/perf-lone.md, perf-batch).

Between batches, when no request waits, the features' work that follows
the commits (``LaterWork``, rows.py: SQLite's search index) runs one step
at a time in transactions of its own; a request that arrives meanwhile
waits for one step at most.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import cast

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings import metrics
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.groups import GroupState
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import (
    CommitHook,
    Committed,
    NewChange,
    NewGroupOp,
    NewMessage,
    Request,
    StoredMessage,
)
from tidings.store.engine import Database
from tidings.store.writer.changes import ChangeHook, Changes
from tidings.store.writer.conflicts import conflict, reason, resent
from tidings.store.writer.conversations import Conv, Conversations
from tidings.store.writer.group_ops import GroupOpHook, GroupOps
from tidings.store.writer.messages import MessageRows, new_node, repeated, send_key
from tidings.store.writer.pg_batch import Tail
from tidings.store.writer.rows import LaterWork, TransactionRows, overrides
from tidings.store.writer.short_way import Gate, SeqMoved, seq_gate

log = logging.getLogger(__name__)

# After later work failed, how long before it is tried again (s).
LATER_RETRY = 5.0
# How late a wake-up for later work may come (s).
LATER_SLACK = 0.5
# Rounds of later work done at stop (a start finishes what is left).
LATER_AT_STOP = 20

# Tries of a batch that met another process's commit (a unique key taken
# meanwhile, a deadlock between two processes' locks).
CONFLICT_RETRIES = 5

MessageHook = Callable[[NewMessage, StoredMessage, GroupState | None, int], None]
# Told each request the writer refused (its own judgement, or a batch that
# failed), before the request's future gets the error: the services answer
# the request's origin here, so a send's future needs no done-callback
# (a loop handle and a Python call a message, issue 19).
RefusalHook = Callable[[Request, TidingsError], None]


class WriterStopped(TidingsError):
    def __init__(self) -> None:
        super().__init__(ErrorCode.SERVICE_UNAVAILABLE, "the server is shutting down")


class MessageWriter:
    def __init__(self, db: Database, *, max_batch: int, on_commit: CommitHook,
                 on_refusal: RefusalHook | None = None, node: str | None = None) -> None:
        self._db = db
        self.node = node or new_node()  # this process's rows' name (runtime.py: StatsService's too)
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._on_refusal = on_refusal
        self._queue: list[tuple[Request, asyncio.Future[Committed]]] = []
        # Set while the writer waits for work; resolved by the next request (a bare future:
        # asyncio.Event's waiter list and loop checks cost a lone message a few us more).
        self._idle: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        # The loop the writer runs on, kept at start: Python 3.11's
        # asyncio.get_running_loop() makes a getpid() system call each time
        # (0.3-0.6 us), three a lone message on the writer's path.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._conversations = Conversations(db)
        self._messages = MessageRows(db, self._conversations, self.node)
        self._changes = Changes(db, self._conversations)
        self._group_ops = GroupOps(db, self._conversations)
        # The features' rows, in the order they are written.
        self._rows: list[TransactionRows] = []
        # Each with its feature's ``only_for`` (rows.py; None: every message).
        self._on_message: list[tuple[Callable[[NewMessage], object] | None, MessageHook]] = []
        self._on_stored: list[Callable[[int], None]] = []
        self._on_change: list[ChangeHook] = []
        self._on_group_op: list[GroupOpHook] = []
        self._later: list[LaterWork] = []
        self._later_timer: asyncio.TimerHandle | None = None
        self._later_at = -1.0  # when the timer fires (the loop's time); -1: none armed
        self._later_paused_until = 0.0
        self.batches = 0
        self.committed = 0
        # The conversations as before the last batch tried, when it took the
        # short way (pg_batch.py): put back when it failed.
        self._short_way: Gate | None = None

    def register(self, *rows: TransactionRows) -> None:
        """Add features' rows to every entry's transaction, written in the
        order registered (before ``start``)."""
        for feature in rows:
            self._rows.append(feature)
            if feature.per_message and overrides(feature, "message"):
                self._on_message.append((feature.only_for, feature.message))
            if overrides(feature, "stored"):
                self._on_stored.append(feature.stored)
            if overrides(feature, "change"):
                self._on_change.append(feature.change)
            if overrides(feature, "group_op"):
                self._on_group_op.append(feature.group_op)
            if feature.later is not None:
                self._later.append(feature.later)

    def carry_push(self, options: Callable[[NewMessage], str | None]) -> None:
        """What each new message's ``push_options`` column holds: on SQLite
        its push job, read by the push worker after the commit (store/push.py)."""
        self._messages.push_of = options

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        self._stopping = True
        self._wake()
        if self._task is not None:
            await self._task

    def submit(self, message: Request) -> asyncio.Future[Committed]:
        if self._stopping:
            raise WriterStopped()
        future: asyncio.Future[Committed] = (
            self._loop or asyncio.get_running_loop()).create_future()
        self._queue.append((message, future))
        # ``_wake`` inline: a call less a message.
        idle = self._idle
        if idle is not None:
            self._idle = None
            if not idle.done():
                idle.set_result(None)
        return future

    def _wake(self) -> None:
        idle, self._idle = self._idle, None
        if idle is not None and not idle.done():
            idle.set_result(None)

    # The group as last committed, for the services' early checks.

    def precheck_send(self, key: ConversationKey, sender: str) -> None:
        """Refuse a group message early (before any callback) when the group
        as last committed says so; the commit judges again, exactly."""
        self._conversations.precheck_send(key, sender)

    def group_members(self, key: ConversationKey) -> Iterable[str] | None:
        """The members of a group the writer has in memory (None when it has
        not: the store's member rows say the same)."""
        return self._conversations.group_members(key)

    def group_type(self, key: ConversationKey) -> str:
        """The type of a group the writer has in memory ("" when it has not)."""
        return self._conversations.group_type(key)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._stopping:
                    await self._finish_later()
                    return
                # Between requests: the work that follows the commits, when
                # due, else a wake-up for when it will be.
                if self._later and await self._run_later():
                    continue
                assert self._loop is not None  # set by start, which runs this
                self._idle = self._loop.create_future()
                await self._idle
                continue
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            started = time.perf_counter()
            try:
                done = await self._commit(batch)
            except Exception as exc:
                metrics.WRITER_FAILURES.inc()
                self._fail(batch, exc)
                continue
            metrics.WRITER_COMMIT.observe(time.perf_counter() - started)
            metrics.WRITER_BATCH.observe(len(batch))
            self.batches += 1
            self.committed += len(done)
            try:
                self._on_commit([d for d in done if isinstance(d, Committed)])
            except Exception:
                log.exception("commit hook failed; the messages are stored")
            for (request, future), result in zip(batch, done, strict=True):
                if type(result) is Committed:
                    if not future.done():
                        future.set_result(result)
                else:
                    self._refuse(request, future, cast(TidingsError, result))
            # Never idle (saturation): what waits for later work stays bounded.
            if self._queue and self._later and any(w.overdue() for w in self._later):
                await self._run_later()

    async def _run_later(self) -> bool:
        """Run one step of the first due later work; whether one ran. When
        none is due, a timer wakes the loop when the first will be."""
        now = time.monotonic()
        if now < self._later_paused_until:
            # An earlier wake-up (another work's) came in the pause: the
            # loop must still be woken when the pause ends, or the paused
            # work waits for the next message.
            self._wake_at(self._later_paused_until - now)
            return False
        soonest: float | None = None
        for work in self._later:
            wait = work.wait()
            if wait is None:
                continue
            if wait <= 0:
                try:
                    await self._db.run_write(work.run, synced=False)
                except Exception:
                    log.exception("work after the commits failed; tried again in %.0f s",
                                  LATER_RETRY)
                    self._later_paused_until = time.monotonic() + LATER_RETRY
                    self._wake_at(LATER_RETRY)
                    return False
                return True
            soonest = wait if soonest is None else min(soonest, wait)
        if soonest is not None:
            self._wake_at(soonest)
        return False

    def _wake_at(self, delay: float) -> None:
        loop = self._loop
        assert loop is not None
        now = loop.time()
        # A wake-up already set for about then (LATER_SLACK late at most)
        # will do: at one message a batch this is asked after each, so the
        # armed time is a float of ours, not asked of the timer handle.
        if now <= self._later_at <= now + delay + LATER_SLACK:
            return
        if self._later_timer is not None:
            self._later_timer.cancel()
        self._later_at = now + delay
        self._later_timer = loop.call_later(delay, self._later_due)

    def _later_due(self) -> None:
        # The armed wake-up is spent: forget its time. uvloop fires a timer
        # up to a millisecond early (libuv counts whole milliseconds), so
        # work asked then may still be a fraction of a millisecond from
        # due; a stale ``_later_at`` made _wake_at take the spent timer for
        # one still armed, and nothing woke the loop again.
        self._later_at = -1.0
        self._later_timer = None
        self._wake()

    async def _finish_later(self) -> None:
        """At stop: do what later work is left (a few rounds at most)."""
        if self._later_timer is not None:
            self._later_timer.cancel()
            self._later_at = -1.0
        for _ in range(LATER_AT_STOP):
            due = [work for work in self._later if work.wait() is not None]
            if not due:
                return
            try:
                for work in due:
                    await self._db.run_write(work.run, synced=False)
            except Exception:
                log.exception("work after the commits failed at stop; done at next start")
                return

    def _fail(self, batch: list[tuple[Request, asyncio.Future[Committed]]],
              exc: Exception) -> None:
        # Our memory of the seqs may now be ahead of the database.
        for message, _ in batch:
            self._conversations.forget(message.key)
        if isinstance(exc, TidingsError):
            error = exc
        else:
            log.exception("message batch failed to commit", exc_info=exc)
            error = TidingsError(ErrorCode.SERVICE_UNAVAILABLE,
                                 "the message could not be stored; retry with the same client id")
        for request, future in batch:
            self._refuse(request, future, error)

    def _refuse(self, request: Request, future: asyncio.Future[Committed],
                error: TidingsError) -> None:
        """Tell the refusal hook, then fail the future. The hook answered
        the request (or its caller awaits the future): the error is marked
        retrieved, so a future nobody awaits (a socket's send) logs no
        "exception was never retrieved"."""
        if self._on_refusal is not None:
            try:
                self._on_refusal(request, error)
            except Exception:
                log.exception("refusal hook failed")
        if not future.done():
            future.set_exception(error)
            future.exception()

    async def _commit(self, batch: list[tuple[Request, asyncio.Future[Committed]]]
                      ) -> list[Committed | TidingsError]:
        requests = [m for m, _ in batch]
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                # A first try may take the short way (SQLite's known way,
                # PostgreSQL's short_way.seq_gate).
                return await self._db.run_write(self._commit_in, requests, now_ms(),
                                                attempt == 1)
            except Exception as exc:
                # Another process wrote the same send, or made the same
                # conversation, in a transaction that overlapped ours: the
                # batch again sees what it committed (a resend gets the first
                # ack). Only PostgreSQL has other processes; on SQLite only a
                # short way's resend tries again.
                shared = self._conversations.shared
                if attempt == CONFLICT_RETRIES or not (
                        conflict(exc) if shared else self._short_way is not None and resent(exc)):
                    raise
                if self._short_way is not None:
                    # The short way's one statement found a send stored
                    # before (an ordinary resend, as often as not) or a seq
                    # moved by another process: routine, the long way sorts it.
                    log.debug("batch goes the long way after the short one's check (%s)",
                              reason(exc))
                else:
                    log.info("batch met another process's commit (%s); trying again", exc)
                if self._short_way is not None and not isinstance(exc, SeqMoved):
                    self._short_way.restore()  # the long way locks, and reads the seqs
                    continue
                for message in requests:
                    self._conversations.forget(message.key)
        raise AssertionError("unreachable")

    def _commit_in(self, conn: Connection, requests: list[Request], now: int,
                   first: bool = True) -> list[Committed | TidingsError]:
        """The whole batch, inside one transaction (run by ``Database.run_write``).

        The per-batch statements go straight to the driver's cursor: through
        SQLAlchemy's execution context each cost ~60 us, five times a batch,
        which is most of a small batch's CPU (bench/chat_load.py --rate 300)."""
        cursor = conn.connection.cursor()
        try:
            return self._write_batch(conn, cursor, requests, now, first)
        except BaseException:
            # Nothing of this batch is written: what was collected goes too.
            self._messages.discard()
            self._conversations.discard()
            for feature in self._rows:
                feature.discard()
            raise
        finally:
            cursor.close()

    def _write_batch(self, conn: Connection, cursor: DBAPICursor, requests: list[Request],
                     now: int, first: bool) -> list[Committed | TidingsError]:
        shared = self._conversations.shared
        if first and not shared:
            known = self._write_known(cursor, requests, now)
            if known is not None:
                return known
        # PostgreSQL: sends to conversations in memory skip the dedup read (a
        # resend fails the messages' INSERT on the client id's unique key, and
        # the batch goes the long way) and the lock: the one statement checks
        # (pg_batch.py). SQLite's such batch took the known way above.
        gate = seq_gate(self._conversations, requests) if first and shared else None
        self._short_way = gate
        sends = [r for r in requests if isinstance(r, NewMessage)]
        earlier = self._messages.stored_before(cursor, sends) if sends and gate is None else {}
        fresh = [r for r in sends if send_key(r) not in earlier] if earlier else sends
        changes = [r for r in requests if not isinstance(r, NewMessage)] if (
            len(sends) != len(requests)) else []
        # A message makes its one-to-one conversation; a group is made only
        # by its creation.
        create = {r.key for r in fresh if r.key.kind is ConversationKind.C2C}
        lookup = {r.key for r in changes} | {r.key for r in fresh
                                             if r.key.kind is ConversationKind.GROUP}
        self._conversations.load(conn, create, lookup, now)
        if shared and gate is None:
            regroup = {r.key for r in changes if isinstance(r, NewGroupOp)}
            gone = self._conversations.lock(conn, cursor, create | lookup, regroup)
            if gone:
                # Disbanded by another process since we read them (a Live
                # group's changes move no seq, so only this shows it): the
                # group of that id it may have made since, read and locked.
                self._conversations.load(conn, create & gone, lookup & gone, now)
                self._conversations.lock(conn, cursor, gone, regroup)
        stored: dict[int, Committed | TidingsError] = {}
        for r in (requests if changes else fresh):
            if isinstance(r, NewChange):
                stored[id(r)] = self._changes.apply(cursor, r, now, self._on_change)
                continue
            if isinstance(r, NewGroupOp):
                # Before the operation: a disband removes them with the group.
                self._flush(cursor)
                stored[id(r)] = self._group_ops.apply(conn, cursor, r, now, self._on_group_op)
                continue
            if earlier and send_key(r) in earlier:
                continue
            stored[id(r)] = self._store(r, self._conversations.get(r.key), now)
        # The batch's last writes: on PostgreSQL one statement (pg_batch.py).
        if gate is not None and any(isinstance(a, TidingsError) for a in stored.values()):
            # Refused by the group as remembered: judged again on the group
            # as committed (another process may have changed it). SQLite's
            # memory is the group as committed: its refusal stands.
            raise SeqMoved()
        tail = Tail(conn, cursor, None if gate is None else gate.seqs) if shared else None
        self._last_writes(cursor if tail is None else cast(DBAPICursor, tail))
        if tail is not None:
            tail.send()
        result: list[Committed | TidingsError] = []
        for r in requests:
            answer = stored.get(id(r))
            if answer is None:
                assert isinstance(r, NewMessage)
                answer = repeated(r, earlier[send_key(r)])
            result.append(answer)
        return result

    def _write_known(self, cursor: DBAPICursor, requests: list[Request], now: int
                     ) -> list[Committed | TidingsError] | None:
        """A batch of sends to conversations in memory on SQLite (the usual
        batch, one send or a thousand): the short way's steps without the
        long way's lists, sets, load and answers' lookup; None when it needs
        the long way."""
        convs = self._conversations.known(requests)
        if convs is None:
            return None
        self._short_way = Gate.of(convs)
        store, hooks = self._messages.store, self._on_message
        answers: list[Committed | TidingsError] = []
        for r, conv in zip(cast(list[NewMessage], requests), convs, strict=True):
            outcome = store(r, conv, now)
            if hooks and type(outcome) is Committed:  # as _store does
                for wanted, hook in hooks:
                    if wanted is None or wanted(r):
                        hook(r, outcome.message, conv.group, now)
            answers.append(outcome)
        self._last_writes(cursor)
        return answers

    def _store(self, r: NewMessage, conv: Conv | None, now: int) -> Committed | TidingsError:
        """Store one new message (its seq and row) and collect the features' rows.
        ``_write_known`` does the same inline for its batch (a call less a
        message): a step added here goes there too."""
        outcome = self._messages.store(r, conv, now)
        if type(outcome) is Committed:
            group = None if conv is None else conv.group
            for wanted, hook in self._on_message:
                if wanted is None or wanted(r):
                    hook(r, outcome.message, group, now)
        return outcome

    def _last_writes(self, cursor: DBAPICursor) -> None:
        """The batch's rows, then its conversations' counters and the messages'
        last writes (on PostgreSQL ``cursor`` is the one-statement Tail)."""
        self._flush(cursor)
        self._conversations.write_back(cursor)
        self._messages.write_last(cursor)

    def _flush(self, cursor: DBAPICursor) -> None:
        """Write the rows collected so far: the messages', then each feature's."""
        stored = self._messages.flush(cursor)
        if stored:
            for count in self._on_stored:
                count(stored)
        for feature in self._rows:
            feature.flush(cursor)
