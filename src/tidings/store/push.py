"""Push: per-app credentials, devices' push addresses, the due queue
(push_jobs, written in the message writer's transactions by PushJobRows;
on SQLite the messages' push_options past a pointer instead) and the
per-device sends."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.clock import now_ms
from tidings.domain.push import Channel, Device, PushSettings, token_hash
from tidings.store import leases, push_reads
from tidings.store.callbacks import outbox_rows
from tidings.store.engine import Database
from tidings.store.prepared import Prepared
from tidings.store.push_jobs import Job, Move, due_messages, move_pointer, waiting

# Where the benches (run on older code too) and tests find it.
from tidings.store.push_jobs import PushJobRows as PushJobRows
from tidings.store.push_reads import Due, Reach, SendsContext, StepReceivers, device_of
from tidings.store.schema import (
    app_push,
    callback_outbox,
    conversations,
    push_devices,
    push_jobs,
    push_sends,
)

PENDING, FAILED = "pending", "failed"
MAX_ERROR = 500

# A step's insert of its sends (driver SQL): on SQLite a row per call, on
# PostgreSQL one statement over arrays of them (``_insert_sends``).
_SEND_COLUMNS = ("INSERT INTO push_sends (sdkappid, user_id, device_id, conversation_id, seq,"
                 " payload, status, attempts, next_attempt_at, last_error, created_at)")
_INSERT_SEND = _SEND_COLUMNS + f" VALUES (?, ?, ?, ?, ?, ?, '{PENDING}', 0, ?, '', ?)"
_INSERT_SENDS_PG = _SEND_COLUMNS + (
    f" SELECT n.a, n.u, n.d, n.c, n.s, n.p, '{PENDING}', 0, $7, '', $7"
    " FROM unnest($1::int8[], $2::text[], $3::text[], $4::int4[], $5::int8[], $6::text[])"
    " AS n(a, u, d, c, s, p)")

# A process alone's reads of its queues (a cluster's claim them: leases.py),
# compiled once (store/prepared.py).
_DUE_JOBS = Prepared(select(push_jobs).where(push_jobs.c.due_at <= bindparam("now"))
                     .order_by(push_jobs.c.due_at, push_jobs.c.id).limit(bindparam("limit")))
# The due sends with their conversations' apps (a home app's send answers
# to the identity its user linked in that app: PushWorker._receiver).
_DUE_SENDS = Prepared(
    select(push_sends, conversations.c.sdkappid.label("conversation_app"))
    .select_from(push_sends.outerjoin(conversations,
                                      conversations.c.id == push_sends.c.conversation_id))
    .where(push_sends.c.status == PENDING, push_sends.c.next_attempt_at <= bindparam("now"))
    .order_by(push_sends.c.next_attempt_at, push_sends.c.id).limit(bindparam("limit")))
# The earliest due times queued: the jobs', and the pending sends' after
# ``after`` (the sends step's own due sends excluded: it records them).
_NEXT_DUE = Prepared(select(
    select(func.min(push_jobs.c.due_at)).scalar_subquery().label("jobs"),
    select(func.min(push_sends.c.next_attempt_at))
    .where(push_sends.c.status == PENDING, push_sends.c.next_attempt_at > bindparam("after"))
    .scalar_subquery().label("sends")))


def _delete(conn: Connection, table: str, ids: list[int]) -> None:
    """Delete ``table``'s rows of ``ids``: on PostgreSQL one statement over an
    array of them (an ``executemany`` there runs the statement once per row,
    ~5 us of the backend's CPU each against ~1: bench/pg_push_rows.py,
    perf-pgsat3); on SQLite each row is a call in the same thread."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE id = ANY($1::int8[])", (ids,))
    else:
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE id = ?", [(i,) for i in ids])


# A sends step's retries and failures recorded (``PushStore.record``) as
# driver SQL: Core's ``update(...)`` was built, its cache key made and its
# parameters processed each step, on the writer's thread (perf-pushdecide).
# On PostgreSQL one statement over arrays, as ``_delete``'s (an
# ``executemany`` runs it once a row); the ids are distinct (one outcome a send).
_LATER = ("UPDATE push_sends SET status = ?, attempts = attempts + 1, last_error = ?,"
          " next_attempt_at = ? WHERE id = ?")
_LATER_PG = ("UPDATE push_sends AS s SET status = u.status, attempts = s.attempts + 1,"
             " last_error = u.error, next_attempt_at = u.next"
             " FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[])"
             " AS u(status, error, next, id) WHERE s.id = u.id")


def _record_later(conn: Connection, later: list[tuple[str, str, int, int]]) -> None:
    """Set the sends' status, error and next attempt, and count the attempt:
    ``later``'s (status, error, next attempt, id) each."""
    if conn.dialect.name == "postgresql":
        columns = tuple(list(column) for column in zip(*later, strict=True))
        conn.exec_driver_sql(_LATER_PG, columns)
    else:
        conn.exec_driver_sql(_LATER, later)


def _insert_sends(conn: Connection, rows: list[tuple[int, str, str, int, int, str]],
                  now: int) -> None:
    """Insert a step's sends ((sdkappid, user, device, conversation, seq,
    payload), due ``now``): on PostgreSQL one statement over arrays of
    them (an ``executemany`` there runs the statement once per row, as the
    deletes did: ``_delete``); on SQLite each row is a call in the same
    thread."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_INSERT_SENDS_PG, (*(list(c) for c in zip(*rows, strict=True)),
                                                now))
    else:
        conn.exec_driver_sql(_INSERT_SEND, [(*row, now, now) for row in rows])


@dataclass(frozen=True, slots=True)
class Send:
    id: int
    sdkappid: int
    user_id: str
    device_id: str
    conversation_id: int
    seq: int
    payload: str
    attempts: int
    # The app of the message's conversation (None: not read, or the
    # conversation is gone): another than ``sdkappid`` for a home app's send.
    conversation_app: int | None = None


@dataclass(frozen=True, slots=True)
class SendOutcome:
    id: int
    # "sent", "dropped" (read, recalled, device gone: deleted), "retry", "failed"
    result: str
    error: str = ""
    next_attempt_at: int = 0


def _send(r: Any, apps: Mapping[int, int] | None = None) -> Send:
    """A send of a push_sends row; its conversation's app from the row
    (``_DUE_SENDS``) or from ``apps``."""
    return Send(r.id, r.sdkappid, r.user_id, r.device_id, r.conversation_id, r.seq,
                r.payload, r.attempts,
                r.conversation_app if apps is None else apps.get(r.conversation_id))


def _checked(send: Send, receiver: str) -> tuple[int, int, str, str, int, int, str]:
    """A send as push_reads.sends_context takes it."""
    return (send.id, send.sdkappid, send.user_id, send.device_id, send.conversation_id,
            send.seq, receiver)


def _apps_of(conn: Connection, conversation_ids: Sequence[int]) -> dict[int, int]:
    """Each conversation's app, by conversation number."""
    c = conversations.c
    found: dict[int, int] = {}
    for i in range(0, len(conversation_ids), push_reads.IN_CHUNK):
        found.update((r.id, r.sdkappid) for r in conn.execute(select(c.id, c.sdkappid).where(
            c.id.in_(conversation_ids[i:i + push_reads.IN_CHUNK]))))
    return found


@dataclass(frozen=True, slots=True)
class DueSends:
    """A sends step's read (``PushStore.due_sends_checked``)."""

    sends: list[Send]
    # What they need (None: claimed, read on its own).
    context: SendsContext | None
    # ``next_due`` past these sends, when asked for.
    upcoming: tuple[int | None, int | None] | None = None


def _next_due(conn: Connection, sqlite: bool, after: int | None
              ) -> tuple[int | None, int | None]:
    """``PushStore.next_due``, of the pending sends due after ``after``
    (None: all)."""
    jobs, sends = _NEXT_DUE.rows(conn, {"after": -1 if after is None else after})[0]
    if sqlite:
        _, first = waiting(conn)
        if first is not None:
            jobs = first if jobs is None else min(jobs, first)
    return (None if jobs is None else int(jobs)), (None if sends is None else int(sends))


class PushStore:
    def __init__(self, db: Database, lease_ms: int = 0) -> None:
        self._db = db
        # How long claimed rows are this process's in a cluster; 0: a
        # process alone claims nothing (store/leases.py).
        self._lease_ms = lease_ms

    @property
    def shares_writer(self) -> bool:
        """Whether this store's writes queue with the messages' (SQLite: on
        the message writer's thread): the worker writes a step in pieces."""
        return self._db.batch is not None

    @property
    def alone(self) -> bool:
        """Whether this process is the only one working the queues."""
        return not self._lease_ms

    # -- app settings ------------------------------------------------------------

    async def settings(self, sdkappid: int) -> PushSettings:
        found = await self._db.read(lambda conn: push_reads.settings_of(conn, [sdkappid]))
        return found[sdkappid]

    async def put_settings(self, sdkappid: int, values: dict[str, Any],
                           only_if_empty: str | None = None) -> PushSettings:
        """Change some columns (inserting the row when missing). With
        ``only_if_empty`` the change is made only while that column is ""
        (two processes making a VAPID pair at once keep the first one)."""
        values = {**values, "updated_at": now_ms()}
        p = app_push.c
        async with self._db.writer.begin() as conn:
            exists = (await conn.execute(
                select(p.sdkappid).where(p.sdkappid == sdkappid))).first()
            if exists is None:
                await conn.execute(insert(app_push).values(sdkappid=sdkappid, **values))
            else:
                stmt = update(app_push).where(p.sdkappid == sdkappid)
                if only_if_empty is not None:
                    stmt = stmt.where(p[only_if_empty] == "")
                await conn.execute(stmt.values(**values))
        return await self.settings(sdkappid)

    # -- devices -----------------------------------------------------------------

    async def register(self, sdkappid: int, user_id: str, device_id: str, channel: Channel,
                       token: str, private_previews: bool) -> Device:
        """Store a device's address; the same token elsewhere in the app (a
        phone handed to another account) is removed, with its pending sends."""
        now = now_ms()
        hashed = token_hash(token)
        d = push_devices.c
        async with self._db.writer.begin() as conn:
            await self._remove(conn, sdkappid, [
                (r.user_id, r.device_id) for r in (await conn.execute(
                    select(d.user_id, d.device_id).where(
                        d.sdkappid == sdkappid, d.token_hash == hashed))).all()
                if (r.user_id, r.device_id) != (user_id, device_id)])
            values = {"channel": channel.value, "token": token, "token_hash": hashed,
                      "private_previews": int(private_previews), "updated_at": now}
            changed = await conn.execute(update(push_devices).where(
                d.sdkappid == sdkappid, d.user_id == user_id, d.device_id == device_id,
            ).values(**values))
            if changed.rowcount == 0:
                await conn.execute(insert(push_devices).values(
                    sdkappid=sdkappid, user_id=user_id, device_id=device_id, created_at=now,
                    **values))
            row = (await conn.execute(select(push_devices).where(
                d.sdkappid == sdkappid, d.user_id == user_id, d.device_id == device_id))).one()
        return device_of(row)

    @staticmethod
    async def _remove(conn: AsyncConnection, sdkappid: int,
                      devices: Sequence[tuple[str, str]]) -> int:
        removed = 0
        d, s = push_devices.c, push_sends.c
        for user_id, device_id in devices:
            result = await conn.execute(delete(push_devices).where(
                d.sdkappid == sdkappid, d.user_id == user_id, d.device_id == device_id))
            await conn.execute(delete(push_sends).where(
                s.sdkappid == sdkappid, s.user_id == user_id, s.device_id == device_id))
            removed += int(result.rowcount)
        return removed

    async def unregister(self, sdkappid: int, user_id: str, device_id: str) -> bool:
        async with self._db.writer.begin() as conn:
            return await self._remove(conn, sdkappid, [(user_id, device_id)]) > 0

    async def remove_token(self, sdkappid: int, user_id: str, device_id: str,
                           token: str) -> bool:
        """The channel says this token is gone: remove the device, unless it
        registered another token meanwhile."""
        d = push_devices.c
        async with self._db.writer.begin() as conn:
            row = (await conn.execute(select(d.token).where(
                d.sdkappid == sdkappid, d.user_id == user_id,
                d.device_id == device_id))).first()
            if row is None or row.token != token:
                return False
            return await self._remove(conn, sdkappid, [(user_id, device_id)]) > 0

    async def devices_of(self, sdkappid: int, user_ids: Sequence[str]) -> list[Device]:
        if not user_ids:
            return []
        return await self._db.read(
            lambda conn: push_reads.devices_of(conn, sdkappid, list(user_ids)))

    # -- jobs --------------------------------------------------------------------

    async def due_jobs(self, now: int, limit: int) -> Due:
        """The jobs due by ``now`` (their message's time, or the row's
        ``due_at``): up to ``limit`` rows, and on SQLite up to ``limit``
        messages past the pointer."""
        sqlite = self._db.dialect == "sqlite"
        if self._claims:
            rows = await leases.due(self._db, push_jobs, "due_at",
                                    [push_jobs.c.due_at <= now], limit, now, self._lease_ms)
            return self._due([self._job(r) for r in rows], limit)

        def read(conn: Connection) -> Due:
            # The rows, (SQLite) the messages past the pointer and the
            # receivers of both who may need a push, in one read.
            jobs = [self._job(r) for r in _DUE_JOBS.rows(conn, {"now": now, "limit": limit})]
            move, full = None, len(jobs) == limit
            if sqlite:
                messages, move, more = due_messages(conn, now, limit)
                jobs, full = jobs + messages, full or more
            return Due(jobs, move, full, push_reads.step_receivers(conn, jobs) if jobs else None)
        return await self._db.read(read)

    @property
    def _claims(self) -> bool:
        """Whether due rows are claimed with a lease (a write: store/leases.py)."""
        return self._db.dialect == "postgresql" and bool(self._lease_ms)

    @staticmethod
    def _job(r: Row[Any]) -> Job:
        return Job(r.id, r.sdkappid, r.conversation_id, r.seq, r.options)

    @staticmethod
    def _due(jobs: list[Job], limit: int) -> Due:
        return Due(jobs, None, len(jobs) == limit)

    async def step_receivers(self, jobs: Sequence[Job]) -> StepReceivers:
        """The receivers of a step's jobs who may need a push and their
        apps' settings, in one read."""
        return await self._db.read(lambda conn: push_reads.step_receivers(conn, jobs))

    async def reach(self, away: Mapping[int, set[str]], badged: Mapping[int, set[str]],
                    apps: Sequence[int] = (), jobs: Sequence[Job] = ()) -> Reach:
        """The away receivers' devices and badges (and ``apps``' settings,
        ``jobs``' contexts), in one read (push_reads.reach)."""
        return await self._db.read(lambda conn: push_reads.reach(conn, away, badged, apps, jobs))

    async def can_push(self, sdkappid: int) -> bool:
        """Whether the app has the callback channel on or a device
        registered, in one read (asked every RENEW_AT (three quarters) of app_cache_ttl for an app
        that does not push: services/push.py)."""
        return await self._db.read(lambda conn: push_reads.can_push(conn, sdkappid))

    async def finish_jobs(self, jobs: Sequence[Job],
                          sends: Iterable[tuple[Job, int, str, str, str]],
                          callbacks: Iterable[tuple[int, str, str]],
                          move: Move | None = None, failed: Sequence[Job] = ()) -> None:
        """Replace the jobs by their sends ((job, sdkappid, user, device,
        payload): the sdkappid whose device it is) and
        callback events, in one transaction: a crash before leaves the jobs
        to be decided again, after leaves the sends. One transaction for a
        step (on SQLite a piece of one: services/push_worker.py), not one
        per message: most jobs end with nothing to send.

        On SQLite the pointer moves past the piece's messages in the same
        transaction (``move``), and the messages whose deciding ``failed``
        become ``push_jobs`` rows (decided again next step, as a row is):
        they do not hold the pointer back. Raises ``PointerMoved`` (nothing
        written; the step's earlier pieces stand) when the pointer is not
        as the step read it or the last piece left it."""
        now = now_ms()
        rows = [(sdkappid, user, device, job.conversation_id, job.seq, body)
                for job, sdkappid, user, device, body in sends]
        ids = [j.id for j in jobs if j.id]
        events = outbox_rows(callbacks)

        def write(conn: Connection) -> None:
            # The statements of every step as driver SQL: through Core each
            # was built and compiled again (an IN list's is never cached).
            if move is not None:
                move_pointer(conn, move)
            if ids:
                _delete(conn, "push_jobs", ids)
            if failed:
                conn.execute(insert(push_jobs), [
                    {"sdkappid": j.sdkappid, "conversation_id": j.conversation_id,
                     "seq": j.seq, "options": j.options, "due_at": j.due_at} for j in failed])
            if rows:
                _insert_sends(conn, rows, now)
            if events:
                conn.execute(insert(callback_outbox), events)
        await self._write(write)

    async def _write(self, work: Callable[[Connection], None]) -> None:
        """One write transaction: on SQLite on the message writer's thread
        (one hand-off, where aiosqlite's connection took several per
        statement and waited on SQLite's lock beside that thread), not
        synced. A step's writes only record work done from what is durable
        already (the messages' own synced commits): a ``kill -9`` loses
        nothing of them (the WAL's pages are the kernel's), the next
        message's synced commit makes them durable (the WAL is in order),
        and an OS crash before it only undoes those writes (their jobs
        decided again, their sends made again: a push twice, never one
        lost). A lone push's two fsyncs (its jobs step's and sends step's)
        were most of its wait on that thread, where the messages queue
        (bench/journal/perf-push3.md)."""
        if self.shares_writer:
            await self._db.run_write(work, synced=False)
            return
        async with self._db.writer.begin() as conn:
            await conn.run_sync(work)

    # -- sends -------------------------------------------------------------------

    async def due_sends(self, now: int, limit: int) -> list[Send]:
        return (await self.due_sends_checked(now, limit)).sends

    async def due_sends_checked(self, now: int, limit: int, home: int | None = None,
                                upcoming: bool = False) -> DueSends:
        """The sends due by ``now``, and when nothing is claimed (a process
        alone) their ``sends_context`` in the same read, but for the sends
        of the ``home`` app (which may answer to an identity linked to
        their user: the caller reads theirs); None when claimed. With
        ``upcoming`` (a process alone) the same read has ``next_due`` for
        what is queued after these sends: the worker's idle sleep needs no
        read of its own."""
        s = push_sends.c
        if self._claims:
            rows = await leases.due(self._db, push_sends, "next_attempt_at",
                                    [s.status == PENDING, s.next_attempt_at <= now], limit,
                                    now, self._lease_ms)
            # The home app's sends' apps, in one read for the step.
            homes = sorted({r.conversation_id for r in rows if r.sdkappid == home})
            apps = await self._db.read(lambda conn: _apps_of(conn, homes)) if homes else {}
            return DueSends([_send(r, apps) for r in rows], None)
        sqlite = self._db.dialect == "sqlite"

        def read(conn: Connection) -> DueSends:
            sends = [_send(r) for r in _DUE_SENDS.rows(conn, {"now": now, "limit": limit})]
            return DueSends(sends, push_reads.sends_context(conn, [
                _checked(send, send.user_id) for send in sends if send.sdkappid != home]),
                _next_due(conn, sqlite, now) if upcoming else None)
        return await self._db.read(read)

    async def next_due(self) -> tuple[int | None, int | None]:
        """The earliest ``due_at`` of the jobs (``due_jobs`` takes them
        ``push_delay`` later; on SQLite with the messages past the pointer's
        times) and ``next_attempt_at`` of the pending sends; None where
        there is none."""
        sqlite = self._db.dialect == "sqlite"
        return await self._db.read(lambda conn: _next_due(conn, sqlite, None))

    async def sends_context(self, sends: Sequence[tuple[Send, str]]) -> SendsContext:
        """For each (send, the user whose cursor it answers to): whether it
        is still due (not recalled, read or muted since), its device and its app's settings, in
        one read."""
        keys = [_checked(send, receiver) for send, receiver in sends]
        return await self._db.read(lambda conn: push_reads.sends_context(conn, keys))

    async def record(self, outcomes: Sequence[SendOutcome]) -> None:
        if not outcomes:
            return
        done = [o.id for o in outcomes if o.result in ("sent", "dropped")]
        later = [(PENDING if o.result == "retry" else FAILED, o.error[:MAX_ERROR],
                  o.next_attempt_at, o.id) for o in outcomes if o.result in ("retry", "failed")]

        def write(conn: Connection) -> None:
            if done:
                _delete(conn, "push_sends", done)
            if later:
                _record_later(conn, later)
        await self._write(write)

    async def sends_of(self, sdkappid: int, user_id: str) -> list[dict[str, Any]]:
        """The user's sends still queued or failed (for the admin)."""
        s = push_sends.c
        rows = await self._db.rows(select(push_sends).where(
            s.sdkappid == sdkappid, s.user_id == user_id).order_by(s.id))
        return [{"device_id": r.device_id, "msg_id": f"{r.conversation_id}-{r.seq}",
                 "status": r.status, "attempts": r.attempts, "last_error": r.last_error,
                 "next_attempt_at": r.next_attempt_at} for r in rows]

    async def prune_failed(self, before: int) -> int:
        s = push_sends.c
        async with self._db.writer.begin() as conn:
            result = await conn.execute(delete(push_sends).where(
                s.status == FAILED, s.next_attempt_at < before))
        return int(result.rowcount)
