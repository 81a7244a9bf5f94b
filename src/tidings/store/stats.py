"""Operational figures of one app, counted by the database through indexes
(``ix_users_last_login``) or read from counts kept for them
(``app_message_counts``, the message writer's: store/writer/messages.py),
never by a scan of every row.

Messages are counted by the minute of their time when they are stored
(imports by their own time): "messages sent", which a retention expiry or
a deleted conversation does not take back. Recalls, edits and group system
entries are not messages. The readers take whole minutes: a count "since
T" starts at the minute holding T (the API's days and steps are whole
minutes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Select,
    column,
    delete,
    func,
    literal,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.accounts import AccountState
from tidings.domain.elements import EntryKind
from tidings.store.engine import Database
from tidings.store.push_jobs import past_pointer
from tidings.store.schema import (
    app_message_counts,
    app_minutes,
    callback_outbox,
    messages,
    push_jobs,
    push_sends,
    users,
)
from tidings.store.writer.messages import MINUTE_MS

# SQLite: the messages up to it are counted (store/search_index.py
# count_messages, migration 0024's pointer).
_BUILT = table("message_texts_fts_built", column("built_to"))


@dataclass(frozen=True, slots=True)
class AppCounts:
    registered_users: int
    active_users: int
    messages: int


class StatsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def counts(self, sdkappid: int, since_ms: int) -> AppCounts:
        """Accounts that exist; those that logged in since ``since_ms``;
        messages stored since then (from the minute holding ``since_ms``)."""
        async with self._db.reader.connect() as conn:
            registered = await conn.scalar(select(func.count()).select_from(users).where(
                users.c.sdkappid == sdkappid, users.c.state != AccountState.DELETED.value))
            active = await conn.scalar(select(func.count()).select_from(users).where(
                users.c.sdkappid == sdkappid, users.c.last_login_at >= since_ms))
            sent = self._sent(sdkappid, since_ms - since_ms % MINUTE_MS).subquery()
            total = await conn.scalar(select(func.sum(sent.c.n)))
        return AppCounts(int(registered or 0), int(active or 0), int(total or 0))

    def _sent(self, sdkappid: int, since_minute: int) -> CompoundSelect[Any] | Select[Any]:
        """The app's messages from ``since_minute`` on, as (minute, n) rows:
        the counts, and on SQLite the messages the search step has not
        counted yet (past its pointer, by rowid: a few hundred at most
        but after a crash), read in the same statement, so in one snapshot
        (a step counts them and moves the pointer in one commit): whole
        from the commit on, neither missed nor counted twice."""
        k = app_message_counts.c
        counted = select(k.minute.label("minute"), k.messages.label("n")).where(
            k.sdkappid == sdkappid, k.minute >= since_minute)
        if self._db.dialect != "sqlite":
            return counted
        m = messages.c
        return counted.union_all(select(
            (m.created_at - m.created_at % MINUTE_MS).label("minute"), literal(1).label("n")
        ).where(literal_column("messages.rowid") > select(_BUILT.c.built_to)
                .scalar_subquery(), m.kind == EntryKind.MESSAGE.value,
                # ``+ 0``: by rowid from the pointer, not the app's every
                # message by the send key's index (the planner's pick).
                m.sdkappid + 0 == sdkappid, m.created_at >= since_minute))

    async def series(self, sdkappid: int, since_ms: int, step_ms: int
                     ) -> dict[int, dict[str, float]]:
        """Per step from ``since_ms`` (the step's index -> figures): messages
        stored, and callbacks delivered and failed with the mean time from
        queued to delivered. Read from the rows every process writes (the
        message counts, the callbacks outbox), so a cluster's figures are
        whole. The messages' steps are whole minutes: ``since_ms`` and
        ``step_ms`` are (StatsService.series)."""
        if since_ms % MINUTE_MS or step_ms % MINUTE_MS:
            raise ValueError("the messages are counted by whole minutes")
        found: dict[int, dict[str, float]] = {}
        sent = self._sent(sdkappid, since_ms).subquery()
        o = callback_outbox.c
        sent_step = ((sent.c.minute - since_ms) // step_ms).label("step")
        hook_step = ((o.created_at - since_ms) // step_ms).label("step")
        async with self._db.reader.connect() as conn:
            for step, count in (await conn.execute(
                    select(sent_step, func.sum(sent.c.n)).group_by(sent_step))).all():
                found.setdefault(int(step), {})["messages"] = int(count)
            for step, status, count, waited in (await conn.execute(
                    select(hook_step, o.status, func.count(),
                           func.sum(o.delivered_at - o.created_at)).where(
                        o.sdkappid == sdkappid, o.created_at >= since_ms,
                        o.status.in_(("delivered", "failed"))).group_by(hook_step, o.status)
            )).all():
                point = found.setdefault(int(step), {})
                point[f"callbacks_{status}"] = int(count)
                if status == "delivered" and count:
                    point["callback_latency_ms"] = float(waited or 0) / int(count)
        return found

    async def add_minutes(self, minute: int, node: str,
                          figures: dict[int, tuple[int, int]]) -> None:
        """This process's figures of one minute, per app (connections,
        active users): each keeps the most sampled in the minute."""
        if not figures:
            return
        insert = (sqlite.insert(app_minutes) if self._db.dialect == "sqlite"
                  else postgresql.insert(app_minutes))
        stmt = insert.values([
            {"sdkappid": app, "minute": minute, "node": node, "connections": c,
             "active_users": n}
            for app, (c, n) in sorted(figures.items())])
        # SQLite's two-argument max() is PostgreSQL's greatest().
        most = func.max if self._db.dialect == "sqlite" else func.greatest
        stmt = stmt.on_conflict_do_update(
            index_elements=[app_minutes.c.sdkappid, app_minutes.c.minute, app_minutes.c.node],
            set_={name: most(app_minutes.c[name], stmt.excluded[name])
                  for name in ("connections", "active_users")})
        async with self._db.writer.begin() as conn:
            await conn.execute(stmt)

    async def prune_minutes(self, before: int) -> int:
        """Forget the per-minute rows before ``before`` (the sampler's, and
        the message writer's counts: neither is read past the series' 7
        days); how many rows went."""
        gone = 0
        async with self._db.writer.begin() as conn:
            for table in (app_minutes, app_message_counts):
                gone += int((await conn.execute(
                    delete(table).where(table.c.minute < before))).rowcount)
        return gone

    async def minutes(self, sdkappid: int, since_ms: int) -> dict[int, tuple[int, int]]:
        """Minute -> (connections, active users) of every process together."""
        a = app_minutes.c
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(
                select(a.minute, func.sum(a.connections), func.sum(a.active_users))
                .where(a.sdkappid == sdkappid, a.minute >= since_ms).group_by(a.minute))).all()
        return {int(m): (int(c or 0), int(n or 0)) for m, c, n in rows}

    async def queues(self, now_ms: int) -> dict[str, tuple[int, float]]:
        """The durable queues' waiting rows: name -> (how many, seconds the
        oldest has waited), through their status/due indexes."""
        found: dict[str, tuple[int, float]] = {}
        async with self._db.reader.connect() as conn:
            for name, table, since, waiting in (
                    ("callbacks", callback_outbox, callback_outbox.c.created_at,
                     callback_outbox.c.status == "pending"),
                    ("push_jobs", push_jobs, push_jobs.c.due_at, None),
                    ("push_sends", push_sends, push_sends.c.created_at,
                     push_sends.c.status == "pending")):
                query = select(func.count(), func.min(since)).select_from(table)
                if waiting is not None:
                    query = query.where(waiting)
                count, oldest = (await conn.execute(query)).one()
                if name == "push_jobs" and self._db.dialect == "sqlite":
                    # There a push job is mostly a message past the push
                    # pointer (store/push_jobs.py).
                    waiting_messages, first = await past_pointer(self._db)
                    count = int(count or 0) + waiting_messages
                    oldest = min((t for t in (oldest, first) if t is not None), default=None)
                age = max(0.0, (now_ms - oldest) / 1000) if oldest is not None else 0.0
                found[name] = (int(count or 0), age)
        return found
