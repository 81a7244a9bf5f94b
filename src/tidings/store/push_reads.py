"""The push worker's reads, as plain functions of one connection, so that a
step's reads for all its jobs (or sends) are one ``Database.read``: one
hand-off to a reader thread, where each statement through aiosqlite was
several (a pushed message cost ~20 reads and ~13 ms of the event loop's
CPU: bench/README.md, perf-push2). ``store/push.py`` wraps them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, func, or_, select

from tidings.domain.accounts import AccountState
from tidings.domain.push import Channel, Device, PushSettings
from tidings.store.push_jobs import Job
from tidings.store.schema import (
    app_push,
    conversation_members,
    conversation_settings,
    conversations,
    groups,
    messages,
    push_devices,
    users,
)

# Users per IN list (SQLite's default limit of bound parameters is 999).
IN_CHUNK = 500
RECALLED = 2


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
class StepContexts:
    """A jobs step's first read: each job's context (None: the message or
    its conversation is gone) and the settings of the step's apps."""

    contexts: list[JobContext | None]
    settings: dict[int, PushSettings]


@dataclass(frozen=True, slots=True)
class Reach:
    """A jobs step's second read, for the receivers found away: their
    devices and their unread totals (the badges), by app."""

    devices: dict[int, dict[str, list[Device]]]
    totals: dict[int, dict[str, int]]


@dataclass(frozen=True, slots=True)
class SendsContext:
    """What a sends step needs: which sends are still due (by id), the
    devices they go to and their apps' settings."""

    due: set[int]
    devices: dict[tuple[int, str, str], Device]
    settings: dict[int, PushSettings]


def device_of(r: Any) -> Device:
    return Device(r.sdkappid, r.user_id, r.device_id, Channel(r.channel), r.token,
                  bool(r.private_previews), r.created_at, r.updated_at)


def _settings_row(r: Any) -> PushSettings:
    return PushSettings(r.sdkappid, bool(r.private_previews), bool(r.use_callback),
                        r.vapid_private, r.vapid_public,
                        r.vapid_subject, r.apns_key_id, r.apns_team_id, r.apns_topic,
                        r.apns_key, r.fcm_credentials)


def settings_of(conn: Connection, sdkappids: Iterable[int]) -> dict[int, PushSettings]:
    """Each app's push settings (the defaults for an app with no row)."""
    wanted = sorted(set(sdkappids))
    found = {app: PushSettings(app) for app in wanted}
    if wanted:
        for r in conn.execute(select(app_push).where(app_push.c.sdkappid.in_(wanted))):
            found[r.sdkappid] = _settings_row(r)
    return found


def devices_of(conn: Connection, sdkappid: int, user_ids: Sequence[str]) -> list[Device]:
    d = push_devices.c
    found: list[Device] = []
    for start in range(0, len(user_ids), IN_CHUNK):
        rows = conn.execute(select(push_devices).where(
            d.sdkappid == sdkappid, d.user_id.in_(list(user_ids[start:start + IN_CHUNK]))))
        found.extend(device_of(r) for r in rows)
    return found


def unread_totals(conn: Connection, sdkappid: int, user_ids: Sequence[str]) -> dict[str, int]:
    """Each user's unread total (the badge), as the ``unread`` op counts it."""
    c, cm = conversations.c, conversation_members.c
    unread = c.last_msg_no - cm.read_msg_no
    # max(0, x) is SQLite's scalar max; PostgreSQL calls it greatest.
    floor = (func.max(0, unread) if conn.dialect.name == "sqlite"
             else func.greatest(0, unread))
    totals: dict[str, int] = {}
    for start in range(0, len(user_ids), IN_CHUNK):
        rows = conn.execute(
            select(cm.user_id, func.sum(floor))
            .select_from(conversation_members.join(conversations, c.id == cm.conversation_id))
            .where(cm.sdkappid == sdkappid,
                   cm.user_id.in_(list(user_ids[start:start + IN_CHUNK])))
            .group_by(cm.user_id)).all()
        totals.update({r[0]: int(r[1] or 0) for r in rows})
    return totals


def can_push(conn: Connection, sdkappid: int) -> bool:
    a, d = app_push.c, push_devices.c
    return bool(conn.execute(select(or_(
        exists().where(a.sdkappid == sdkappid, a.use_callback != 0),
        exists().where(d.sdkappid == sdkappid)))).scalar())


def job_context(conn: Connection, job: Job) -> JobContext | None:
    """None when the message or its conversation is gone."""
    c, m, cm = conversations.c, messages.c, conversation_members.c
    cs, u, g = conversation_settings.c, users.c, groups.c
    conv = conn.execute(select(c.kind, c.a, c.b).where(c.id == job.conversation_id)).first()
    msg = conn.execute(select(m.sender, m.elements, m.state).where(
        m.conversation_id == job.conversation_id, m.seq == job.seq)).first()
    if conv is None or msg is None:
        return None
    # A deleted or disabled account gets no push (an identity that never
    # had a users row is active).
    members = conn.execute(
        select(cm.user_id, cm.read_seq, func.coalesce(cs.muted, 0))
        .select_from(conversation_members.outerjoin(conversation_settings, (
            cs.conversation_id == cm.conversation_id) & (cs.user_id == cm.user_id))
            .outerjoin(users, (u.sdkappid == cm.sdkappid) & (u.user_id == cm.user_id)))
        .where(cm.conversation_id == job.conversation_id,
               cm.user_id != msg.sender,
               func.coalesce(u.state, AccountState.ACTIVE.value)
               == AccountState.ACTIVE.value)).all()
    name = conn.execute(select(u.nickname).where(
        u.sdkappid == job.sdkappid, u.user_id == msg.sender)).scalar()
    group_name = None
    if conv.kind == "group":
        group_name = conn.execute(select(g.name).where(
            g.sdkappid == job.sdkappid, g.group_id == conv.a)).scalar() or conv.a
    return JobContext(conv.kind, conv.a, conv.b, msg.sender, name or msg.sender,
                      msg.elements, msg.state, group_name,
                      {r[0]: (int(r[1]), bool(r[2])) for r in members})


def step_contexts(conn: Connection, jobs: Sequence[Job]) -> StepContexts:
    """The contexts of a step's jobs and their apps' settings, in one read."""
    return StepContexts([job_context(conn, job) for job in jobs],
                        settings_of(conn, (job.sdkappid for job in jobs)))


def reach(conn: Connection, away: Mapping[int, set[str]],
          badged: Mapping[int, set[str]]) -> Reach:
    """The devices of the ``away`` users, by app, and the unread totals of
    those with a device and of the ``badged`` users (the ones the app's own
    server is asked to reach), in one read."""
    devices: dict[int, dict[str, list[Device]]] = {}
    totals: dict[int, dict[str, int]] = {}
    for app, user_ids in away.items():
        by_user: dict[str, list[Device]] = {}
        for device in devices_of(conn, app, sorted(user_ids)):
            by_user.setdefault(device.user_id, []).append(device)
        devices[app] = by_user
        totals[app] = unread_totals(conn, app, sorted(set(by_user) | badged.get(app, set())))
    return Reach(devices, totals)


def still_due(conn: Connection, conversation_id: int, seq: int, receiver: str) -> bool:
    """False when the message was recalled (or is gone), or the receiver
    read up to it or muted the conversation."""
    m, cm, cs = messages.c, conversation_members.c, conversation_settings.c
    state = conn.execute(select(m.state).where(
        m.conversation_id == conversation_id, m.seq == seq)).scalar()
    if state is None or state == RECALLED:
        return False
    read = conn.execute(select(cm.read_seq).where(
        cm.conversation_id == conversation_id, cm.user_id == receiver)).scalar()
    if (read or 0) >= seq:
        return False
    return not conn.execute(select(cs.muted).where(
        cs.conversation_id == conversation_id, cs.user_id == receiver)).scalar()


def sends_context(conn: Connection,
                  sends: Sequence[tuple[int, int, str, str, int, int, str]]) -> SendsContext:
    """For each send (id, sdkappid, user, device, conversation, seq, the
    receiver whose cursor it answers to): whether it is still due, its
    device, and its app's settings, in one read."""
    due: set[int] = set()
    devices: dict[tuple[int, str, str], Device] = {}
    d = push_devices.c
    for send_id, app, user, device_id, conversation_id, seq, receiver in sends:
        if not still_due(conn, conversation_id, seq, receiver):
            continue
        due.add(send_id)
        key = (app, user, device_id)
        if key not in devices:
            row = conn.execute(select(push_devices).where(
                d.sdkappid == app, d.user_id == user, d.device_id == device_id)).first()
            if row is not None:
                devices[key] = device_of(row)
    return SendsContext(due, devices, settings_of(conn, (key[0] for key in devices)))
