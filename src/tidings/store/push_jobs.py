"""Push jobs: PushJobRows writes them in the message writer's
transactions (on PostgreSQL ``push_jobs`` rows; on SQLite the messages'
``push_options``, read past a pointer), and what the push worker's store
(store/push.py) takes of them and records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain.elements import ImportMode
from tidings.domain.groups import GroupState
from tidings.domain.records import NewMessage, StoredMessage, record
from tidings.store.engine import Database
from tidings.store.prepared import driver_rows
from tidings.store.writer.rows import Collected, TransactionRows

if TYPE_CHECKING:
    from tidings.store.writer.core import MessageWriter

# PushJobRows' statement (driver SQL): one row per message whose push may be due.
JOB_INSERT_SQL = ("INSERT INTO push_jobs (sdkappid, conversation_id, seq, options, due_at)"
                  " VALUES (?, ?, ?, ?, ?)")
# Read for every message (``options``, ``_wanted``): as a plain name, not off
# its Enum class (on Python 3.11 that goes through ``EnumType.__getattr__``'s
# slot, ~60 ns a read: issue 19, perf-loop7).
_HISTORY = ImportMode.HISTORY


class PushJobRows(TransactionRows):
    """The writer's rows for push: a job for each message that may need a
    push, in the message's own transaction (services/push.py decides it
    later, when its receivers have had time to read it).

    On SQLite the job is the message itself: its ``push_options`` column
    (``options``, which the writer's INSERT carries), read by the worker
    past a pointer (``PushStore.due_jobs``); the ``push_jobs`` row and its
    index were two of a lone commit's ~8 WAL pages (issue 19). PostgreSQL
    writes the rows (one more row in its one round trip)."""

    def __init__(self, db: Database, wants: Callable[[int], bool]) -> None:
        self._jobs = Collected(db.driver_sql(JOB_INSERT_SQL))
        # Whether an app's messages get a push job; called on the writer's
        # thread, so it must not block.
        self._wants = wants
        self.in_messages = db.dialect == "sqlite"
        # On SQLite the job rides in the message's row (``options``): no
        # call of ``message`` a message.
        self.per_message = not self.in_messages
        # The batch's answers of ``wants`` by app: asked once per batch per
        # app, not per message (forgotten at each flush).
        self._asked: dict[int, bool] = {}
        # Jobs the batch carries in its messages' rows (SQLite), not flushed yet.
        self._marked = 0
        # Jobs written in the batch that just committed, for the commit hook
        # (services/push.py): only a batch that wrote jobs wakes the worker.
        # Set on the writer's thread and read on the loop after the commit;
        # the writer runs one batch at a time, so they never overlap. A commit
        # that fails after the flush leaves its count: one wake too many for
        # the next batch, never one too few.
        self._written = 0

    def attach(self, writer: MessageWriter) -> None:
        """Register with the writer (after the features registered before),
        and on SQLite have its message INSERT carry ``options``."""
        writer.register(self)
        if self.in_messages:
            writer.carry_push(self.options)

    def _wanted(self, r: NewMessage) -> bool:
        if r.push is None or r.imported is _HISTORY:
            return False
        wanted = self._asked.get(r.key.sdkappid)
        return self._ask(r.key.sdkappid) if wanted is None else wanted

    def _ask(self, sdkappid: int) -> bool:
        """Whether the app pushes, asked once per app per batch."""
        wanted = self._asked[sdkappid] = self._wants(sdkappid)
        return wanted

    def options(self, r: NewMessage) -> str | None:
        """The new message's ``push_options`` column on SQLite: its options
        when it needs a job, else None (the writer calls it as it collects
        the message's row)."""
        if r.push is None or r.imported is _HISTORY:
            return None
        # ``_wanted`` inline: a call less a message.
        wanted = self._asked.get(r.key.sdkappid)
        if wanted is None:
            wanted = self._ask(r.key.sdkappid)
        if not wanted:
            return None
        self._marked += 1
        return r.push

    def message(self, r: NewMessage, entry: StoredMessage, group: GroupState | None,
                now: int) -> None:
        # PostgreSQL only (``per_message``).
        if self._wanted(r):
            self._jobs.params.append((entry.key.sdkappid, entry.conversation_id, entry.seq,
                                      r.push, now))

    def flush(self, cursor: DBAPICursor) -> None:
        self._written += len(self._jobs.params) + self._marked
        self._marked = 0
        self._asked.clear()
        self._jobs.flush(cursor)

    def discard(self) -> None:
        self._jobs.discard()
        self._asked.clear()
        self._marked = self._written = 0  # rolled back: nothing for the worker

    def take_written(self) -> int:
        """Jobs written since last asked (the commit hook asks after each
        commit)."""
        written, self._written = self._written, 0
        return written


@record  # built a few thousand at a time by a step's due read: plain slot stores
class Job:
    # The push_jobs row's id; 0 for a message read past the pointer (SQLite).
    id: int
    sdkappid: int
    conversation_id: int
    seq: int
    options: str
    # The message's rowid when the job is the message itself (SQLite), and
    # its time (a job whose deciding fails is written as a row due then).
    rowid: int = 0
    due_at: int = 0


@dataclass(frozen=True, slots=True)
class Move:
    """The pointer's move that records a step's messages, or a piece's of
    them (SQLite): from ``made_to`` (with the ``gen`` read with it, or
    where the step's last piece left it) to ``to``."""

    made_to: int
    gen: int
    to: int


class PointerMoved(Exception):
    """The newest messages were deleted since the step read the messages
    past the pointer (their rowids may come again): the piece being
    written is rolled back (the step's earlier pieces stand), and the step
    is done again from where the pointer stands."""


def due_messages(conn: Connection, now: int, limit: int
                 ) -> tuple[list[Job], Move | None, bool]:
    """The messages with push options past the pointer, up to the last
    one due by ``now`` (one before it committed before it, so it is due
    too: an import's own time may be ahead), and where the pointer goes.

    The largest rowid is read first, then the messages up to it: every
    message at or below it had committed (SQLite gives rowids in commit
    order, one writer at a time), unless the newest were deleted and
    their rowids given again, which moves ``gen`` (migration 0025)."""
    made_to, gen, top = driver_rows(
        conn, "SELECT made_to, gen, (SELECT coalesce(max(rowid), 0) FROM messages)"
        " FROM push_jobs_made", ())[0]
    if top <= made_to:
        return [], None, False
    # (rowid, sdkappid, conversation_id, seq, push_options, created_at)
    rows = driver_rows(
        conn, "SELECT rowid, sdkappid, conversation_id, seq, push_options, created_at"
        " FROM messages WHERE rowid > ? AND rowid <= ? AND push_options IS NOT NULL"
        " ORDER BY rowid LIMIT ?", (made_to, top, limit))
    last = max((i for i, r in enumerate(rows) if r[5] <= now), default=-1)
    full = len(rows) == limit and last == len(rows) - 1
    if last == len(rows) - 1 and not full:
        to = top  # every message up to the top is decided by this step
    elif last >= 0:
        to = rows[last][0]
    else:
        to = rows[0][0] - 1  # none due yet: past the messages with no push
    jobs = [Job(0, app, conversation_id, seq, options, rowid, created_at)
            for rowid, app, conversation_id, seq, options, created_at in rows[:last + 1]]
    return jobs, (Move(made_to, gen, to) if to > made_to else None), full


def move_pointer(conn: Connection, move: Move) -> None:
    """Move the pointer past a piece's messages (a step's, or on SQLite a
    piece of one), in that piece's transaction; ``PointerMoved`` (the
    piece rolled back, earlier pieces standing) when it is not as the
    step read it or its last piece left it."""
    moved = conn.exec_driver_sql(
        "UPDATE push_jobs_made SET made_to = ? WHERE made_to = ? AND gen = ?",
        (move.to, move.made_to, move.gen))
    if moved.rowcount != 1:
        raise PointerMoved


def waiting(conn: Connection) -> tuple[int, int | None]:
    """How many messages past the pointer have push options (SQLite's
    waiting jobs), and the earliest time among them (None: none)."""
    count, first = list(conn.exec_driver_sql(
        "SELECT count(*), min(created_at) FROM messages WHERE push_options IS NOT NULL"
        " AND rowid > (SELECT made_to FROM push_jobs_made)").one())
    return int(count or 0), None if first is None else int(first)


async def past_pointer(db: Database) -> tuple[int, int | None]:
    """``waiting``, in a read of its own."""
    return await db.read(waiting)
