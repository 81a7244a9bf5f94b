"""Push: per-app credentials, devices' push addresses, the due queue
(push_jobs, written in the message writer's transactions by PushJobRows;
on SQLite the messages' push_options past a pointer instead) and the
per-device sends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.accounts import AccountState
from tidings.domain.clock import now_ms
from tidings.domain.push import Channel, Device, PushSettings, token_hash
from tidings.store import leases
from tidings.store.callbacks import insert_events
from tidings.store.engine import Database
from tidings.store.push_jobs import (
    Due,
    Job,
    Move,
    due_messages,
    move_pointer,
    past_pointer,
)

# Where the benches (run on older code too) and tests find it.
from tidings.store.push_jobs import PushJobRows as PushJobRows
from tidings.store.schema import (
    app_push,
    conversation_members,
    conversation_settings,
    conversations,
    groups,
    messages,
    push_devices,
    push_jobs,
    push_sends,
    users,
)

PENDING, FAILED = "pending", "failed"
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class JobContext:
    """What the worker needs to decide a job: the message, its conversation
    and, per receiver, the cursor and the mute."""

    kind: str
    a: str
    b: str
    sender: str
    sender_name: str
    elements: str
    state: int
    group_name: str | None
    # receiver -> (read_seq, muted)
    receivers: dict[str, tuple[int, bool]]


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


@dataclass(frozen=True, slots=True)
class SendOutcome:
    id: int
    # "sent", "dropped" (read, recalled, device gone: deleted), "retry", "failed"
    result: str
    error: str = ""
    next_attempt_at: int = 0


def _device(r: Any) -> Device:
    return Device(r.sdkappid, r.user_id, r.device_id, Channel(r.channel), r.token,
                  bool(r.private_previews), r.created_at, r.updated_at)


def _settings(r: Any) -> PushSettings:
    return PushSettings(r.sdkappid, bool(r.private_previews), bool(r.use_callback),
                        r.vapid_private, r.vapid_public,
                        r.vapid_subject, r.apns_key_id, r.apns_team_id, r.apns_topic,
                        r.apns_key, r.fcm_credentials)


class PushStore:
    def __init__(self, db: Database, lease_ms: int = 0) -> None:
        self._db = db
        # How long claimed rows are this process's in a cluster; 0: a
        # process alone claims nothing (store/leases.py).
        self._lease_ms = lease_ms

    @property
    def alone(self) -> bool:
        """Whether this process is the only one working the queues."""
        return not self._lease_ms

    # -- app settings ------------------------------------------------------------

    async def settings(self, sdkappid: int) -> PushSettings:
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(
                select(app_push).where(app_push.c.sdkappid == sdkappid))).first()
        return PushSettings(sdkappid) if row is None else _settings(row)

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
        return _device(row)

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
        d = push_devices.c
        found: list[Device] = []
        async with self._db.reader.connect() as conn:
            for start in range(0, len(user_ids), 500):
                rows = (await conn.execute(select(push_devices).where(
                    d.sdkappid == sdkappid,
                    d.user_id.in_(list(user_ids[start:start + 500]))))).all()
                found.extend(_device(r) for r in rows)
        return found

    async def device(self, sdkappid: int, user_id: str, device_id: str) -> Device | None:
        d = push_devices.c
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(select(push_devices).where(
                d.sdkappid == sdkappid, d.user_id == user_id, d.device_id == device_id))).first()
        return None if row is None else _device(row)

    # -- jobs --------------------------------------------------------------------

    async def due_jobs(self, now: int, limit: int, skip: Sequence[int] = ()) -> Due:
        """The jobs due by ``now`` (their message's time, or the row's
        ``due_at``): up to ``limit`` rows, and on SQLite up to ``limit``
        messages past the pointer."""
        j = push_jobs.c
        cond = [j.due_at <= now]
        if skip:
            cond.append(j.id.not_in(list(skip)))
        rows = await leases.due(self._db, push_jobs, "due_at", cond, limit, now,
                                self._lease_ms)
        jobs = [Job(r.id, r.sdkappid, r.conversation_id, r.seq, r.options) for r in rows]
        if self._db.dialect != "sqlite":
            return Due(jobs, None, len(rows) == limit)
        messages, move, full = await due_messages(self._db, now, limit)
        return Due(jobs + messages, move, full or len(rows) == limit)

    async def job_context(self, job: Job) -> JobContext | None:
        """None when the message or its conversation is gone."""
        c, m, cm = conversations.c, messages.c, conversation_members.c
        cs, u, g = conversation_settings.c, users.c, groups.c
        async with self._db.reader.connect() as conn:
            conv = (await conn.execute(select(c.kind, c.a, c.b).where(
                c.id == job.conversation_id))).first()
            msg = (await conn.execute(select(m.sender, m.elements, m.state).where(
                m.conversation_id == job.conversation_id, m.seq == job.seq))).first()
            if conv is None or msg is None:
                return None
            # A deleted or disabled account gets no push (an identity that
            # never had a users row is active).
            members = (await conn.execute(
                select(cm.user_id, cm.read_seq, func.coalesce(cs.muted, 0))
                .select_from(conversation_members.outerjoin(conversation_settings, (
                    cs.conversation_id == cm.conversation_id) & (cs.user_id == cm.user_id))
                    .outerjoin(users, (u.sdkappid == cm.sdkappid) & (u.user_id == cm.user_id)))
                .where(cm.conversation_id == job.conversation_id,
                       cm.user_id != msg.sender,
                       func.coalesce(u.state, AccountState.ACTIVE.value)
                       == AccountState.ACTIVE.value))).all()
            name = (await conn.execute(select(u.nickname).where(
                u.sdkappid == job.sdkappid, u.user_id == msg.sender))).scalar()
            group_name = None
            if conv.kind == "group":
                group_name = (await conn.execute(select(g.name).where(
                    g.sdkappid == job.sdkappid, g.group_id == conv.a))).scalar() or conv.a
        return JobContext(conv.kind, conv.a, conv.b, msg.sender, name or msg.sender,
                          msg.elements, msg.state, group_name,
                          {r[0]: (int(r[1]), bool(r[2])) for r in members})

    async def unread_totals(self, sdkappid: int, user_ids: Sequence[str]) -> dict[str, int]:
        """Each user's unread total (the badge), as the ``unread`` op counts it."""
        c, cm = conversations.c, conversation_members.c
        totals: dict[str, int] = {}
        async with self._db.reader.connect() as conn:
            for start in range(0, len(user_ids), 500):
                rows = (await conn.execute(
                    select(cm.user_id, func.sum(func.max(0, c.last_msg_no - cm.read_msg_no)
                                                if self._db.dialect == "sqlite" else
                                                func.greatest(0, c.last_msg_no
                                                              - cm.read_msg_no)))
                    .select_from(conversation_members.join(
                        conversations, c.id == cm.conversation_id))
                    .where(cm.sdkappid == sdkappid,
                           cm.user_id.in_(list(user_ids[start:start + 500])))
                    .group_by(cm.user_id))).all()
                totals.update({r[0]: int(r[1] or 0) for r in rows})
        return totals

    async def can_push(self, sdkappid: int) -> bool:
        """Whether the app has the callback channel on or a device
        registered, in one read (asked every RENEW_AT (three quarters) of app_cache_ttl for an app
        that does not push: services/push.py)."""
        a, d = app_push.c, push_devices.c
        async with self._db.reader.connect() as conn:
            return bool((await conn.execute(select(or_(
                exists().where(a.sdkappid == sdkappid, a.use_callback != 0),
                exists().where(d.sdkappid == sdkappid))))).scalar())

    async def finish_jobs(self, jobs: Sequence[Job],
                          sends: Iterable[tuple[Job, int, str, str, str]],
                          callbacks: Iterable[tuple[int, str, str]],
                          move: Move | None = None, failed: Sequence[Job] = ()) -> None:
        """Replace the jobs by their sends ((job, sdkappid, user, device,
        payload): the sdkappid whose device it is) and
        callback events, in one transaction: a crash before leaves the jobs
        to be decided again, after leaves the sends. One transaction for a
        whole step, not one per message: most jobs end with nothing to send.

        On SQLite the pointer moves past the step's messages in the same
        transaction (``move``), and the messages whose deciding ``failed``
        become ``push_jobs`` rows (decided again next step, as a row is):
        they do not hold the pointer back. Raises ``PointerMoved`` (nothing
        written) when the pointer is not as the step read it."""
        now = now_ms()
        rows = [{"sdkappid": sdkappid, "user_id": user, "device_id": device,
                 "conversation_id": job.conversation_id, "seq": job.seq, "payload": body,
                 "status": PENDING, "attempts": 0, "next_attempt_at": now, "last_error": "",
                 "created_at": now} for job, sdkappid, user, device, body in sends]
        ids = [j.id for j in jobs if j.id]
        async with self._db.writer.begin() as conn:
            if move is not None:
                await move_pointer(conn, move)
            for start in range(0, len(ids), 500):
                await conn.execute(delete(push_jobs).where(
                    push_jobs.c.id.in_(ids[start:start + 500])))
            if failed:
                await conn.execute(insert(push_jobs), [
                    {"sdkappid": j.sdkappid, "conversation_id": j.conversation_id,
                     "seq": j.seq, "options": j.options, "due_at": j.due_at} for j in failed])
            if rows:
                await conn.execute(insert(push_sends), rows)
            await insert_events(conn, callbacks)

    # -- sends -------------------------------------------------------------------

    async def due_sends(self, now: int, limit: int, skip: Sequence[int] = ()) -> list[Send]:
        s = push_sends.c
        cond = [s.status == PENDING, s.next_attempt_at <= now]
        if skip:
            cond.append(s.id.not_in(list(skip)))
        rows = await leases.due(self._db, push_sends, "next_attempt_at", cond, limit, now,
                                self._lease_ms)
        return [Send(r.id, r.sdkappid, r.user_id, r.device_id, r.conversation_id, r.seq,
                     r.payload, r.attempts) for r in rows]

    async def next_due(self) -> tuple[int | None, int | None]:
        """The earliest ``due_at`` of the jobs (``due_jobs`` takes them
        ``push_delay`` later; on SQLite with the messages past the pointer's
        times) and ``next_attempt_at`` of the pending sends; None where
        there is none."""
        jobs, sends = await leases.next_due(
            self._db, (push_jobs, "due_at", ()),
            (push_sends, "next_attempt_at", (push_sends.c.status == PENDING,)))
        if self._db.dialect == "sqlite":
            _, first = await past_pointer(self._db)
            if first is not None:
                jobs = first if jobs is None else min(jobs, first)
        return jobs, sends

    async def conversation_app(self, conversation_id: int) -> int | None:
        c = conversations.c
        async with self._db.reader.connect() as conn:
            found = (await conn.execute(select(c.sdkappid).where(
                c.id == conversation_id))).scalar()
        return None if found is None else int(found)

    async def still_due(self, send: Send, receiver: str) -> bool:
        """False when, since the push was decided, the message was recalled
        (or is gone), or the receiver (the send's user, or the app identity
        linked to it) read up to it or muted the conversation."""
        m, cm, cs = messages.c, conversation_members.c, conversation_settings.c
        async with self._db.reader.connect() as conn:
            state = (await conn.execute(select(m.state).where(
                m.conversation_id == send.conversation_id, m.seq == send.seq))).scalar()
            read = (await conn.execute(select(cm.read_seq).where(
                cm.conversation_id == send.conversation_id,
                cm.user_id == receiver))).scalar()
            muted = (await conn.execute(select(cs.muted).where(
                cs.conversation_id == send.conversation_id,
                cs.user_id == receiver))).scalar()
        return state is not None and state != 2 and (read or 0) < send.seq and not muted

    async def record(self, outcomes: Sequence[SendOutcome]) -> None:
        if not outcomes:
            return
        s = push_sends.c
        done = [o.id for o in outcomes if o.result in ("sent", "dropped")]
        later = [{"b_id": o.id, "b_status": PENDING if o.result == "retry" else FAILED,
                  "b_error": o.error[:MAX_ERROR], "b_next": o.next_attempt_at}
                 for o in outcomes if o.result in ("retry", "failed")]
        async with self._db.writer.begin() as conn:
            if done:
                await conn.execute(delete(push_sends).where(s.id.in_(done)))
            if later:
                await conn.execute(update(push_sends).where(s.id == bindparam("b_id")).values(
                    status=bindparam("b_status"), attempts=s.attempts + 1,
                    last_error=bindparam("b_error"), next_attempt_at=bindparam("b_next")),
                    later)

    async def sends_of(self, sdkappid: int, user_id: str) -> list[dict[str, Any]]:
        """The user's sends still queued or failed (for the admin)."""
        s = push_sends.c
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(select(push_sends).where(
                s.sdkappid == sdkappid, s.user_id == user_id).order_by(s.id))).all()
        return [{"device_id": r.device_id, "msg_id": f"{r.conversation_id}-{r.seq}",
                 "status": r.status, "attempts": r.attempts, "last_error": r.last_error,
                 "next_attempt_at": r.next_attempt_at} for r in rows]

    async def prune_failed(self, before: int) -> int:
        s = push_sends.c
        async with self._db.writer.begin() as conn:
            result = await conn.execute(delete(push_sends).where(
                s.status == FAILED, s.next_attempt_at < before))
        return int(result.rowcount)
