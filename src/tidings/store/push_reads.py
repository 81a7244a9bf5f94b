"""The push worker's reads, as plain functions of one connection, so that a
step's reads for all its jobs (or sends) are one ``Database.read``: one
hand-off to a reader thread, where each statement through aiosqlite was
several (a pushed message cost ~20 reads and ~13 ms of the event loop's
CPU: bench/journal/perf-push2.md). ``store/push.py`` wraps them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from tidings.domain.accounts import AccountState
from tidings.domain.push import Channel, Device, PushSettings
from tidings.domain.records import record
from tidings.store.prepared import Prepared, driver_rows, each
from tidings.store.push_jobs import Job, Move
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
# Up to this many users are read one statement each (compiled once), more
# with IN lists (compiled per statement, ~0.4 ms each here, but one per
# 500 users: a message to a large group).
FEW = 16
RECALLED = 2


@record  # one a job with a receiver away, up to 3,200 a step: plain slot stores
class JobContext:
    """What the worker needs to make a job's pushes: the message and its
    conversation (read only for a job with a receiver away:
    ``StepReceivers``)."""

    kind: str
    a: str
    b: str
    sender: str
    sender_name: str
    elements: str
    group_name: str | None


@dataclass(frozen=True, slots=True)
class StepReceivers:
    """A jobs step's first read: each job's receivers who may need a push
    (active, not the sender, not muted, not read up to it; none when the
    message is recalled or gone) and the settings of the step's apps. Who
    of them is away (no device in the foreground) the bus knows, in
    memory; the jobs' contexts are read with their devices (``Reach``),
    for the jobs with a receiver away only: with every receiver in the
    foreground a job costs this one light statement (perf-pgpush)."""

    receivers: list[list[str]]
    settings: dict[int, PushSettings]


@dataclass(frozen=True, slots=True)
class Due:
    """A step's due jobs: ``push_jobs`` rows and (SQLite) messages past the
    pointer; ``full`` when a limit was reached (more may be due)."""

    jobs: list[Job]
    move: Move | None = None
    full: bool = False
    # Each job's receivers who may need a push, read with the jobs when the
    # rows were not claimed (a process alone): the step's deciding needs no
    # read of its own for them.
    first: StepReceivers | None = None


@dataclass(frozen=True, slots=True)
class Reach:
    """A jobs step's second read, for the receivers found away: their
    devices and their unread totals (the badges), by app, and the contexts
    of their jobs."""

    devices: dict[int, dict[str, list[Device]]]
    totals: dict[int, dict[str, int]]
    # The settings of the apps asked for (a linked home's, for its sends).
    settings: dict[int, PushSettings] = field(default_factory=dict)
    # The contexts of the jobs asked for, by (conversation, seq); a job's
    # missing: its message is gone since the step's first read.
    contexts: dict[tuple[int, int], JobContext] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendsContext:
    """What a sends step needs: which sends are still due (by id), the
    devices they go to and their apps' settings."""

    due: set[int]
    devices: dict[tuple[int, str, str], Device]
    settings: dict[int, PushSettings]

    def merged(self, other: SendsContext) -> SendsContext:
        return SendsContext(self.due | other.due, {**self.devices, **other.devices},
                            {**self.settings, **other.settings})


_c, _m, _cm = conversations.c, messages.c, conversation_members.c
_cs, _u, _g, _d = conversation_settings.c, users.c, groups.c, push_devices.c

# The statements a step runs per job and per send, compiled once
# (store/prepared.py): through Core each cost ~150-300 us of the reader
# thread on this machine, more than SQLite took to run it.
_ROWID: ColumnElement[int] = literal_column("messages.rowid", Integer)


def _context(app: ColumnElement[int]) -> Select[Any]:
    """A job's context (``JobContext``): the message, its conversation, the
    sender's nickname and the group's name in ``app``."""
    return (select(_c.kind, _c.a, _c.b, _m.sender, _m.elements,
                   select(_u.nickname).where(_u.sdkappid == app, _u.user_id == _m.sender)
                   .scalar_subquery().label("nickname"),
                   select(_g.name).where(_c.kind == "group", _g.sdkappid == app,
                                         _g.group_id == _c.a)
                   .scalar_subquery().label("group_name"))
            .select_from(messages.join(conversations, _c.id == _m.conversation_id)))


_JOB = Prepared(_context(bindparam("app")).where(_m.conversation_id == bindparam("conv"),
                                                 _m.seq == bindparam("seq")))
# SQLite: the contexts of a step's messages by their rowids (a JSON array:
# one statement, compiled once, whatever their count), where a statement a
# job was ~8 us of the reader thread a job (26-30 against ~6 ms for 3,200
# jobs: bench/journal/perf-p99.md). Driver SQL with positional rows
# (``driver_rows``): the same select as ``_context``'s in Core, without
# its named row a job (perf-pushreads).
_JOBS_AT_SQL = (
    "SELECT m.rowid, m.conversation_id, m.seq, c.kind, c.a, c.b, m.sender, m.elements,"
    " (SELECT u.nickname FROM users AS u WHERE u.sdkappid = m.sdkappid"
    " AND u.user_id = m.sender),"
    " (SELECT g.name FROM groups AS g WHERE c.kind = 'group' AND g.sdkappid = m.sdkappid"
    " AND g.group_id = c.a)"
    " FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id"
    " WHERE m.rowid IN (SELECT value FROM json_each(?))")
# A job's receivers who may need a push: active (a deleted or disabled
# account gets none; an identity that never had a users row is active), not
# the sender, not muted, not read up to it; none when the message is
# recalled or gone. The message's own row gives the sender: one statement,
# no context (``_JOB``) before the bus says someone is away.
_RECEIVER_JOIN = (
    messages.join(conversation_members, _cm.conversation_id == _m.conversation_id)
    .outerjoin(conversation_settings, and_(_cs.conversation_id == _cm.conversation_id,
                                           _cs.user_id == _cm.user_id))
    .outerjoin(users, and_(_u.sdkappid == _cm.sdkappid, _u.user_id == _cm.user_id)))
_RECEIVER_RULE = (
    _m.state != RECALLED, _cm.user_id != _m.sender, _cm.read_seq < _m.seq,
    func.coalesce(_cs.muted, 0) == 0,
    func.coalesce(_u.state, AccountState.ACTIVE.value) == AccountState.ACTIVE.value)
_RECEIVERS = Prepared(
    select(_cm.user_id).select_from(_RECEIVER_JOIN)
    .where(_m.conversation_id == bindparam("conv"), _m.seq == bindparam("seq"),
           _cm.conversation_id == bindparam("conv"), *_RECEIVER_RULE))
# SQLite: the receivers of the messages with push options in a span of
# rowids (a step's messages past the pointer, ``Job.rowid``), one statement
# for all of them: one a job was ~7 us of the reader thread a job (22.7
# against 4.5 ms for 3,200 jobs, sqlite3 alone: bench/journal/perf-p99.md).
_RECEIVERS_PAST = Prepared(
    select(_ROWID.label("rowid"), _cm.user_id).select_from(_RECEIVER_JOIN)
    .where(_ROWID.between(bindparam("first"), bindparam("last")),
           _m.push_options.is_not(None), *_RECEIVER_RULE))
_STILL_DUE = Prepared(
    select(_m.state,
           select(_cm.read_seq).where(_cm.conversation_id == _m.conversation_id,
                                      _cm.user_id == bindparam("user"))
           .scalar_subquery().label("read_seq"),
           select(_cs.muted).where(_cs.conversation_id == _m.conversation_id,
                                   _cs.user_id == bindparam("user"))
           .scalar_subquery().label("muted"))
    .where(_m.conversation_id == bindparam("conv"), _m.seq == bindparam("seq")))
_DEVICE = Prepared(select(push_devices).where(
    _d.sdkappid == bindparam("app"), _d.user_id == bindparam("user"),
    _d.device_id == bindparam("device")))
_DEVICES_OF = Prepared(select(push_devices).where(
    _d.sdkappid == bindparam("app"), _d.user_id == bindparam("user")))
# A conversation's unread count, never below 0 (the ``unread`` op's rule).
_UNREAD = case((_c.last_msg_no > _cm.read_msg_no, _c.last_msg_no - _cm.read_msg_no), else_=0)
_UNREAD_OF = Prepared(
    select(func.sum(_UNREAD).label("unread"))
    .select_from(conversation_members.join(conversations, _c.id == _cm.conversation_id))
    .where(_cm.sdkappid == bindparam("app"), _cm.user_id == bindparam("user"))
    .having(func.count() > 0))
# SQLite: many users' devices and unread totals by one statement each, the
# users a JSON array (compiled once whatever their count, as the contexts'
# rowids), where IN lists through Core compiled each statement and made
# SQLAlchemy's rows: for a step's 2,000 receivers ~16 and ~6 ms of the
# reader thread against ~3.5 and ~3 for SQLite itself (bench/journal/perf-pushreads.md).
_USERS = func.json_each(bindparam("users")).table_valued("value")
_DEVICES_LISTED = Prepared(select(push_devices).where(
    _d.sdkappid == bindparam("app"), _d.user_id.in_(select(_USERS.c.value))))
_UNREAD_LISTED = Prepared(
    select(_cm.user_id, func.sum(_UNREAD).label("unread"))
    .select_from(conversation_members.join(conversations, _c.id == _cm.conversation_id))
    .where(_cm.sdkappid == bindparam("app"), _cm.user_id.in_(select(_USERS.c.value)))
    .group_by(_cm.user_id))
_CAN_PUSH = Prepared(select(or_(
    exists().where(app_push.c.sdkappid == bindparam("app"), app_push.c.use_callback != 0),
    exists().where(_d.sdkappid == bindparam("app"))).label("yes")))
_SETTINGS = Prepared(select(app_push).where(app_push.c.sdkappid == bindparam("app")))


# A device's channel by its stored value: a dict's lookup, not the enum's
# call (~1 us: 2,000 of them a full step with a device away each).
_CHANNELS = {c.value: c for c in Channel}


def device_of(r: Any) -> Device:
    channel = _CHANNELS.get(r.channel) or Channel(r.channel)  # an unknown one: the enum's error
    return Device(r.sdkappid, r.user_id, r.device_id, channel, r.token,
                  bool(r.private_previews), r.created_at, r.updated_at)


def _settings_row(r: Any) -> PushSettings:
    return PushSettings(r.sdkappid, bool(r.private_previews), bool(r.use_callback),
                        r.vapid_private, r.vapid_public,
                        r.vapid_subject, r.apns_key_id, r.apns_team_id, r.apns_topic,
                        r.apns_key, r.fcm_credentials)


def settings_of(conn: Connection, sdkappids: Iterable[int]) -> dict[int, PushSettings]:
    """Each app's push settings (the defaults for an app with no row)."""
    found: dict[int, PushSettings] = {}
    for app in sorted(set(sdkappids)):
        rows = _SETTINGS.rows(conn, {"app": app})
        found[app] = _settings_row(rows[0]) if rows else PushSettings(app)
    return found


def devices_of(conn: Connection, sdkappid: int, user_ids: Sequence[str]) -> list[Device]:
    if len(user_ids) <= FEW:
        return [device_of(r) for rows in each(_DEVICES_OF, conn, [
            {"app": sdkappid, "user": user} for user in user_ids]) for r in rows]
    if conn.dialect.name == "sqlite":
        return [device_of(r) for r in _DEVICES_LISTED.rows(
            conn, {"app": sdkappid, "users": orjson.dumps(list(user_ids)).decode()})]
    d = push_devices.c
    found: list[Device] = []
    for start in range(0, len(user_ids), IN_CHUNK):
        rows = conn.execute(select(push_devices).where(
            d.sdkappid == sdkappid, d.user_id.in_(list(user_ids[start:start + IN_CHUNK]))))
        found.extend(device_of(r) for r in rows)
    return found


def unread_totals(conn: Connection, sdkappid: int, user_ids: Sequence[str]) -> dict[str, int]:
    """Each user's unread total (the badge), as the ``unread`` op counts it."""
    totals: dict[str, int]
    if len(user_ids) <= FEW:
        found = each(_UNREAD_OF, conn, [{"app": sdkappid, "user": user} for user in user_ids])
        return {user: int(rows[0].unread or 0)
                for user, rows in zip(user_ids, found, strict=True) if rows}
    if conn.dialect.name == "sqlite":
        return {r.user_id: int(r.unread or 0) for r in _UNREAD_LISTED.rows(
            conn, {"app": sdkappid, "users": orjson.dumps(list(user_ids)).decode()})}
    c, cm = conversations.c, conversation_members.c
    totals = {}
    for start in range(0, len(user_ids), IN_CHUNK):
        rows = conn.execute(
            select(cm.user_id, func.sum(_UNREAD))
            .select_from(conversation_members.join(conversations, c.id == cm.conversation_id))
            .where(cm.sdkappid == sdkappid,
                   cm.user_id.in_(list(user_ids[start:start + IN_CHUNK])))
            .group_by(cm.user_id)).all()
        totals.update({r[0]: int(r[1] or 0) for r in rows})
    return totals


def can_push(conn: Connection, sdkappid: int) -> bool:
    return bool(_CAN_PUSH.rows(conn, {"app": sdkappid})[0].yes)


def contexts_of(conn: Connection, jobs: Sequence[Job]) -> dict[tuple[int, int], JobContext]:
    """The jobs' contexts by (conversation, seq) (a gone message's missing):
    one statement for all the jobs on PostgreSQL (``each``)."""
    contexts: dict[tuple[int, int], JobContext] = {}
    rows = [job for job in jobs if not job.rowid]
    for job, found in zip(rows, each(_JOB, conn, [
            {"conv": job.conversation_id, "seq": job.seq, "app": job.sdkappid} for job in rows]),
            strict=True):
        if found:
            contexts[job.conversation_id, job.seq] = _context_of(found[0])
    # The messages (SQLite) by their rowids (a step's are its jobs').
    at = {job.rowid: job for job in jobs if job.rowid}
    if at:
        for (rowid, conversation_id, seq, kind, a, b, sender, elements, nickname,
             group_name) in driver_rows(conn, _JOBS_AT_SQL,
                                        (orjson.dumps(sorted(at)).decode(),)):
            job = at[rowid]
            # Another message may hold the rowid of one deleted since the
            # step's first read (the newest: SQLite gives it again): its
            # job has no context, as a gone message's (and the step's
            # write finds the pointer moved).
            if conversation_id == job.conversation_id and seq == job.seq:
                contexts[conversation_id, seq] = JobContext(
                    kind, a, b, sender, nickname or sender, elements,
                    (group_name or a) if kind == "group" else None)
    return contexts


def _context_of(r: Any) -> JobContext:
    return JobContext(r.kind, r.a, r.b, r.sender, r.nickname or r.sender, r.elements,
                      (r.group_name or r.a) if r.kind == "group" else None)


def step_receivers(conn: Connection, jobs: Sequence[Job]) -> StepReceivers:
    """The receivers of a step's jobs who may need a push and their apps'
    settings, in one read: the jobs that are messages (SQLite) by one
    statement over their rowids' span (a step's are every message with
    push options in it: those past the pointer, in order), the rows
    (``push_jobs``) one statement each (on PostgreSQL one for all:
    ``each``)."""
    past: dict[int, list[str]] = {}
    rowids = [job.rowid for job in jobs if job.rowid]
    if rowids:
        for r in _RECEIVERS_PAST.rows(conn, {"first": min(rowids), "last": max(rowids)}):
            past.setdefault(r.rowid, []).append(r.user_id)
    rows = iter(each(_RECEIVERS, conn, [{"conv": job.conversation_id, "seq": job.seq}
                                        for job in jobs if not job.rowid]))
    receivers = [past.get(job.rowid, []) if job.rowid else [r.user_id for r in next(rows)]
                 for job in jobs]
    return StepReceivers(receivers, settings_of(conn, (job.sdkappid for job in jobs)))


def reach(conn: Connection, away: Mapping[int, set[str]],
          badged: Mapping[int, set[str]], apps: Iterable[int] = (),
          jobs: Sequence[Job] = ()) -> Reach:
    """The devices of the ``away`` users, by app, and the unread totals of
    those with a device and of the ``badged`` users (the ones the app's own
    server is asked to reach, the linked home accounts and their
    identities), the settings of ``apps`` and the contexts of ``jobs``, in
    one read."""
    devices: dict[int, dict[str, list[Device]]] = {}
    totals: dict[int, dict[str, int]] = {}
    for app, user_ids in away.items():
        by_user: dict[str, list[Device]] = {}
        for device in devices_of(conn, app, sorted(user_ids)):
            by_user.setdefault(device.user_id, []).append(device)
        devices[app] = by_user
        totals[app] = unread_totals(conn, app, sorted(set(by_user) | badged.get(app, set())))
    for app, user_ids in badged.items():  # badged only: an app with nobody away
        if app not in away:
            totals[app] = unread_totals(conn, app, sorted(user_ids))
    return Reach(devices, totals, settings_of(conn, apps), contexts_of(conn, jobs) if jobs else {})


def _due(r: Any, seq: int) -> bool:
    return bool(r.state != RECALLED and (r.read_seq or 0) < seq and not r.muted)


# SQLite: a sends step's checks and devices by one statement each, the sends
# a JSON array (each row names its send by its place in it, ``key``), where
# two statements a send (``_STILL_DUE``, ``_DEVICE``) were ~1 ms of the
# reader thread's Python for a step of 64, ~625 such steps for a 40,000
# push backlog (bench/journal/perf-pushreads.md). Driver SQL, SQLite's only
# (its JSON functions, as the contexts' ``json_each``), positional rows.
_STILL_DUE_LISTED = (
    "SELECT j.key, m.state, (SELECT cm.read_seq FROM conversation_members AS cm"
    " WHERE cm.conversation_id = m.conversation_id AND cm.user_id = json_extract(j.value, '$[2]')),"
    " (SELECT cs.muted FROM conversation_settings AS cs"
    " WHERE cs.conversation_id = m.conversation_id AND cs.user_id = json_extract(j.value, '$[2]'))"
    " FROM json_each(?) AS j JOIN messages AS m"
    " ON m.conversation_id = json_extract(j.value, '$[0]')"
    " AND m.seq = json_extract(j.value, '$[1]')")
_DEVICES_LISTED_SQL = (
    "SELECT j.key, d.sdkappid, d.user_id, d.device_id, d.channel, d.token,"
    " d.private_previews, d.created_at, d.updated_at"
    " FROM json_each(?) AS j JOIN push_devices AS d"
    " ON d.sdkappid = json_extract(j.value, '$[0]') AND d.user_id = json_extract(j.value, '$[1]')"
    " AND d.device_id = json_extract(j.value, '$[2]')")


def _sends_context_sqlite(conn: Connection,
                          sends: Sequence[tuple[int, int, str, str, int, int, str]]
                          ) -> SendsContext:
    """``sends_context`` on SQLite: two statements whatever the count."""
    due: set[int] = set()
    for key, state, read_seq, muted in driver_rows(conn, _STILL_DUE_LISTED, (orjson.dumps(
            [(conversation_id, seq, receiver)
             for _, _, _, _, conversation_id, seq, receiver in sends]).decode(),)):
        send = sends[key]
        if state != RECALLED and (read_seq or 0) < send[5] and not muted:
            due.add(send[0])
    keys = list(dict.fromkeys((app, user, device_id) for send_id, app, user, device_id, *_
                              in sends if send_id in due))
    devices: dict[tuple[int, str, str], Device] = {}
    for key, app, user, device_id, channel, token, previews, created, updated in driver_rows(
            conn, _DEVICES_LISTED_SQL, (orjson.dumps(keys).decode(),)):
        devices[keys[key]] = Device(app, user, device_id,
                                    _CHANNELS.get(channel) or Channel(channel), token,
                                    bool(previews), created, updated)
    return SendsContext(due, devices, settings_of(conn, (key[0] for key in devices)))


def sends_context(conn: Connection,
                  sends: Sequence[tuple[int, int, str, str, int, int, str]]) -> SendsContext:
    """For each send (id, sdkappid, user, device, conversation, seq, the
    receiver whose cursor it answers to): whether it is still due, its
    device, and its app's settings, in one read."""
    if conn.dialect.name == "sqlite" and len(sends) > 1:
        return _sends_context_sqlite(conn, sends)
    checks = each(_STILL_DUE, conn, [{"conv": conversation_id, "seq": seq, "user": receiver}
                                     for _, _, _, _, conversation_id, seq, receiver in sends])
    due = {send[0] for send, found in zip(sends, checks, strict=True)
           if found and _due(found[0], send[5])}
    keys = list(dict.fromkeys((app, user, device_id) for send_id, app, user, device_id, *_
                              in sends if send_id in due))
    devices = {key: device_of(rows[0]) for key, rows in zip(keys, each(_DEVICE, conn, [
        {"app": app, "user": user, "device": device_id} for app, user, device_id in keys]),
        strict=True) if rows}
    return SendsContext(due, devices, settings_of(conn, (key[0] for key in devices)))
