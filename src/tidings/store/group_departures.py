"""Who left which group, and how (docs/groups.md, "Leaving a group while
offline"). Written by the group operations inside the writer's
transaction, so a departure and its system entry are durable together;
read by ``sync`` for the groups a device still holds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select

from tidings.store.engine import Database
from tidings.store.schema import (
    conversation_members,
    group_departures,
    group_join_requests,
    groups,
)

# Ids per query: well under SQLite's bound-parameter limit.
_CHUNK = 500


def record(conn: Connection, conversation_id: int, sdkappid: int, group_id: str,
           users: Iterable[str], op: str, seq: int, by: str | None, now: int) -> None:
    """``users`` left (``op`` "left") or were removed ("kicked") at ``seq``."""
    users = list(users)
    if not users:
        return
    d = group_departures.c
    conn.execute(delete(group_departures).where(d.conversation_id == conversation_id,
                                                d.user_id.in_(users)))
    conn.execute(insert(group_departures), [
        {"conversation_id": conversation_id, "user_id": u, "sdkappid": sdkappid,
         "group_id": group_id, "op": op, "seq": seq, "by_user": by, "left_at": now}
        for u in users])


def forget(conn: Connection, conversation_id: int, users: Iterable[str]) -> None:
    """``users`` are members (again): their departures and their pending
    applications (an invitation ends one) are over."""
    users = list(users)
    d, r = group_departures.c, group_join_requests.c
    conn.execute(delete(group_departures).where(d.conversation_id == conversation_id,
                                                d.user_id.in_(users)))
    conn.execute(delete(group_join_requests).where(r.conversation_id == conversation_id,
                                                   r.user_id.in_(users),
                                                   r.state == "pending"))


class DepartureStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def membership(self, sdkappid: int, user_id: str, group_ids: list[str]
                         ) -> tuple[set[str], set[str]]:
        """Of these group ids: (those that exist, those the user is a member of)."""
        g, cm = groups.c, conversation_members.c
        existing: set[str] = set()
        member_of: set[str] = set()

        def read(conn: Connection) -> None:  # one hand-off (a sync asks it)
            for i in range(0, len(group_ids), _CHUNK):
                rows = conn.execute(
                    select(g.group_id, cm.user_id)
                    .outerjoin(conversation_members,
                               and_(cm.conversation_id == g.conversation_id,
                                    cm.user_id == user_id))
                    .where(g.sdkappid == sdkappid,
                           g.group_id.in_(group_ids[i:i + _CHUNK]))).all()
                for row in rows:
                    existing.add(row.group_id)
                    if row.user_id is not None:
                        member_of.add(row.group_id)

        await self._db.read(read)
        return existing, member_of

    async def of(self, sdkappid: int, user_id: str,
                 group_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The user's departures from these groups, by group id."""
        if not group_ids:
            return {}
        d = group_departures.c
        found: dict[str, dict[str, Any]] = {}

        def read(conn: Connection) -> None:
            for i in range(0, len(group_ids), _CHUNK):
                rows = conn.execute(select(group_departures).where(
                    d.sdkappid == sdkappid, d.user_id == user_id,
                    d.group_id.in_(group_ids[i:i + _CHUNK]))).all()
                found.update({r.group_id: {"op": r.op, "seq": r.seq, "by": r.by_user,
                                           "time": r.left_at} for r in rows})

        await self._db.read(read)
        return found
