"""Callback settings per app, and the outbox of after-callbacks (its rows
for messages, changes and group operations are written in their own
transactions by ``OutboxRows``, registered with the message writer)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy import ColumnElement, bindparam, delete, insert, select, update
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.callbacks import (
    DELIVERED,
    PENDING,
    CallbackFormat,
    CallbackSettings,
    Event,
    FailurePolicy,
    message_data,
)
from tidings.domain.clock import now_ms
from tidings.domain.group_callbacks import GroupEvent, op_data
from tidings.domain.group_callbacks import message_data as group_message_data
from tidings.domain.groups import GroupState, GroupType
from tidings.domain.ids import ConversationKind
from tidings.domain.records import NewChange, NewMessage, StoredMessage
from tidings.store import leases
from tidings.store.engine import Database
from tidings.store.schema import app_callbacks, callback_outbox
from tidings.store.writer.rows import Collected, GroupChange, TransactionRows

MAX_ERROR = 500

# OutboxRows' statement (driver SQL, ``?`` placeholders): one row per event.
OUTBOX_INSERT_SQL = (
    "INSERT INTO callback_outbox (sdkappid, event, event_id, payload, status, attempts,"
    " next_attempt_at, last_error, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, 'pending', 0, ?, '', ?, ?)")


def new_event_id() -> str:
    return secrets.token_hex(12)


def outbox_params(sdkappid: int, event: str, payload: str, now: int) -> tuple[Any, ...]:
    """The parameters of OUTBOX_INSERT_SQL for one event."""
    return (sdkappid, event, new_event_id(), payload, now, now, now)


class OutboxRows(TransactionRows):
    """The writer's rows for callbacks: the after-events the app asked for
    (after send, after recall, a group operation's), queued in the outbox
    in the transaction of what they tell, so none is lost or told early."""

    # Called for the messages whose app asked for the after-send callback
    # (the writer asks).
    only_for = attrgetter("after_send")

    def __init__(self, db: Database) -> None:
        self._events = Collected(db.driver_sql(OUTBOX_INSERT_SQL))

    def message(self, r: NewMessage, entry: StoredMessage, group: GroupState | None,
                now: int) -> None:
        assert r.after_send is not None  # only_for
        msg = entry
        if msg.key.kind is ConversationKind.GROUP:
            data = group_message_data(
                msg.key.a, "" if group is None else group.type.value, msg.sender,
                msg.client_msg_id, msg.elements, msg.cloud_custom_data, *r.after_send,
                msg_id=msg.msg_id, seq=msg.seq, time=msg.created_at)
            event: str = GroupEvent.AFTER_SEND
        else:
            peer = msg.key.b if msg.sender == msg.key.a else msg.key.a
            data = message_data(msg.sender, peer, msg.client_msg_id, msg.elements,
                                msg.cloud_custom_data, *r.after_send, msg_id=msg.msg_id,
                                seq=msg.seq, time=msg.created_at)
            event = Event.AFTER_SEND
        self._events.params.append(outbox_params(msg.key.sdkappid, event, data.decode(), now))

    def change(self, cursor: DBAPICursor, r: NewChange, before: StoredMessage,
               entry: StoredMessage, now: int) -> None:
        if not r.after_recall:
            return
        target = entry.target
        assert target is not None
        peer = target.key.b if target.sender == target.key.a else target.key.a
        data = {"from": target.sender, "to": peer, "conversation_id": f"c2c_{peer}",
                "msg_id": target.msg_id, "seq": target.seq,
                "recalled_by": "admin" if entry.changed_by.startswith("admin:") else "sender",
                "time": now}
        self._events.params.append(outbox_params(target.key.sdkappid, Event.AFTER_RECALL,
                                                 orjson.dumps(data).decode(), now))

    def group_op(self, cursor: DBAPICursor, change: GroupChange, now: int) -> None:
        r = change.request
        if not r.callbacks:
            return
        group = change.after or change.before
        group_type = GroupType.WORK.value if group is None else group.type.value
        event = op_data(change.entry, r.key.a, group_type, now, change.recipients)
        if event is not None and event[0] in r.callbacks:
            self._events.params.append(outbox_params(
                r.key.sdkappid, event[0], orjson.dumps(event[1]).decode(), now))

    def flush(self, cursor: DBAPICursor) -> None:
        self._events.flush(cursor)

    def discard(self) -> None:
        self._events.discard()


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    sdkappid: int
    event: str
    event_id: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: int
    last_error: str
    created_at: int
    updated_at: int
    delivered_at: int | None

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "event": self.event, "event_id": self.event_id,
                "status": self.status, "attempts": self.attempts,
                "next_attempt_at": self.next_attempt_at if self.status == PENDING else None,
                "last_error": self.last_error, "created_at": self.created_at,
                "updated_at": self.updated_at, "delivered_at": self.delivered_at}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery attempt came to."""

    id: int
    status: str  # DELIVERED, PENDING (retry at next_attempt_at), FAILED or SKIPPED
    error: str = ""
    next_attempt_at: int = 0


def _row(r: Any) -> OutboxRow:
    return OutboxRow(r.id, r.sdkappid, r.event, r.event_id, r.payload, r.status, r.attempts,
                     r.next_attempt_at, r.last_error, r.created_at, r.updated_at, r.delivered_at)


def _settings(r: Any) -> CallbackSettings:
    return CallbackSettings(
        sdkappid=r.sdkappid, url=r.url, token=r.token, format=CallbackFormat(r.format),
        disabled=frozenset(e for e in r.disabled_events.split(",") if e),
        timeout_ms=r.timeout_ms, failure_policy=FailurePolicy(r.failure_policy),
        updated_at=r.updated_at)


def outbox_rows(events: Iterable[tuple[int, str, str]]) -> list[dict[str, Any]]:
    """The outbox rows of (sdkappid, event, payload JSON) events, due now."""
    now = now_ms()
    return [{"sdkappid": app, "event": event, "event_id": new_event_id(), "payload": payload,
             "status": PENDING, "attempts": 0, "next_attempt_at": now, "last_error": "",
             "created_at": now, "updated_at": now} for app, event, payload in events]


async def insert_events(conn: AsyncConnection,
                        events: Iterable[tuple[int, str, str]]) -> int:
    """Queue (sdkappid, event, payload JSON) rows in the caller's transaction."""
    rows = outbox_rows(events)
    if rows:
        await conn.execute(insert(callback_outbox), rows)
    return len(rows)


def _pending(busy_apps: Sequence[int], in_flight: Sequence[int]) -> list[ColumnElement[bool]]:
    """Pending rows, but those of apps at their limit and those being sent."""
    o = callback_outbox.c
    cond = [o.status == PENDING]
    if busy_apps:
        cond.append(o.sdkappid.not_in(list(busy_apps)))
    if in_flight:
        cond.append(o.id.not_in(list(in_flight)))
    return cond


class CallbackStore:
    def __init__(self, db: Database, lease_ms: int = 0) -> None:
        self._db = db
        # How long claimed rows are this process's in a cluster; 0: a
        # process alone claims nothing (store/leases.py).
        self._lease_ms = lease_ms

    @property
    def alone(self) -> bool:
        """Whether this process is the only one working the outbox."""
        return not self._lease_ms

    # -- settings ----------------------------------------------------------------

    async def get_settings(self, sdkappid: int) -> CallbackSettings | None:
        # In one hand-off: every login's state-change callback asks (cached).
        row = await self._db.read(lambda conn: conn.execute(
            select(app_callbacks).where(app_callbacks.c.sdkappid == sdkappid)).first())
        return None if row is None else _settings(row)

    async def put_settings(self, s: CallbackSettings) -> CallbackSettings:
        values = {"url": s.url, "token": s.token, "format": s.format.value,
                  "disabled_events": ",".join(sorted(s.disabled)), "timeout_ms": s.timeout_ms,
                  "failure_policy": s.failure_policy.value, "updated_at": now_ms()}
        async with self._db.writer.begin() as conn:
            result = await conn.execute(update(app_callbacks)
                                        .where(app_callbacks.c.sdkappid == s.sdkappid)
                                        .values(**values))
            if result.rowcount == 0:
                await conn.execute(insert(app_callbacks).values(sdkappid=s.sdkappid, **values))
        stored = await self.get_settings(s.sdkappid)
        assert stored is not None
        return stored

    async def delete_settings(self, sdkappid: int) -> bool:
        async with self._db.writer.begin() as conn:
            result = await conn.execute(
                delete(app_callbacks).where(app_callbacks.c.sdkappid == sdkappid))
        return int(result.rowcount) > 0

    # -- outbox ------------------------------------------------------------------

    async def insert(self, events: Iterable[tuple[int, str, str]]) -> int:
        async with self._db.writer.begin() as conn:
            return await insert_events(conn, events)

    async def insert_done(self, sdkappid: int, event: str, event_id: str, payload: str,
                          status: str, error: str) -> OutboxRow:
        """A row for an event already sent once and not to be retried (the test event)."""
        now = now_ms()
        async with self._db.writer.begin() as conn:
            new_id = (await conn.execute(insert(callback_outbox).values(
                sdkappid=sdkappid, event=event, event_id=event_id, payload=payload,
                status=status, attempts=1, next_attempt_at=now, last_error=error[:MAX_ERROR],
                created_at=now, updated_at=now,
                delivered_at=now if status == DELIVERED else None,
            ).returning(callback_outbox.c.id))).scalar_one()
            row = (await conn.execute(
                select(callback_outbox).where(callback_outbox.c.id == new_id))).one()
        return _row(row)

    async def due(self, now: int, limit: int, *, busy_apps: Sequence[int] = (),
                  in_flight: Sequence[int] = ()) -> list[OutboxRow]:
        """Pending rows whose time has come, oldest first, leaving out apps at
        their concurrency limit and rows being sent right now; claimed for
        this process when several share the database (store/leases.py)."""
        cond = [*_pending(busy_apps, in_flight), callback_outbox.c.next_attempt_at <= now]
        rows = await leases.due(self._db, callback_outbox, "next_attempt_at", cond, limit, now,
                                self._lease_ms)
        return [_row(r) for r in rows]

    async def next_due(self, *, busy_apps: Sequence[int] = (),
                       in_flight: Sequence[int] = ()) -> int | None:
        """When the next pending row comes due, leaving out what ``due``
        would (None: no pending row)."""
        (at,) = await leases.next_due(self._db, (callback_outbox, "next_attempt_at",
                                                 _pending(busy_apps, in_flight)))
        return at

    async def release(self, ids: Sequence[int]) -> None:
        """Rows ``due`` gave that this process leaves for now (their app is
        at its limit): due again at once, for any process."""
        await leases.release(self._db, callback_outbox, "next_attempt_at", ids, now_ms(),
                             self._lease_ms)

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write what the attempts came to, all in one transaction. Only
        pending rows change: a delivered row is never touched again."""
        if not outcomes:
            return
        now = now_ms()
        o = callback_outbox.c
        stmt = (update(callback_outbox)
                .where(o.id == bindparam("b_id"), o.status == PENDING)
                .values(status=bindparam("b_status"), attempts=o.attempts + 1,
                        last_error=bindparam("b_error"),
                        next_attempt_at=bindparam("b_next"), updated_at=now,
                        delivered_at=bindparam("b_delivered")))
        params = [{"b_id": x.id, "b_status": x.status, "b_error": x.error[:MAX_ERROR],
                   "b_next": x.next_attempt_at or now,
                   "b_delivered": now if x.status == DELIVERED else None} for x in outcomes]
        async with self._db.writer.begin() as conn:
            await conn.execute(stmt, params)

    async def prune(self, before: int, limit: int = 5000) -> int:
        """Delete finished rows (delivered, failed, skipped) last changed before ``before``."""
        o = callback_outbox.c
        old = (select(o.id).where(o.status != PENDING, o.updated_at < before)
               .limit(limit).scalar_subquery())
        async with self._db.writer.begin() as conn:
            result = await conn.execute(delete(callback_outbox).where(o.id.in_(old)))
        return int(result.rowcount)

    async def recent(self, sdkappid: int, limit: int,
                     status: str | None = None) -> list[OutboxRow]:
        o = callback_outbox.c
        cond = [o.sdkappid == sdkappid]
        if status is not None:
            cond.append(o.status == status)
        stmt = select(callback_outbox).where(*cond).order_by(o.id.desc()).limit(limit)
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_row(r) for r in rows]
