"""Groups in the store: the reads (a group's profile, its members, the
groups a user joined) and the app's group settings. The operations that
change a group are in ``store.group_ops``.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from tidings.domain.elements import EntryKind
from tidings.domain.groups import Role
from tidings.domain.ids import ConversationKey
from tidings.store.engine import Database

# The message writer imports these from here (store/writer.py).
from tidings.store.group_ops import GroupOp, GroupTx, load_state
from tidings.store.schema import (
    app_group_settings,
    conversation_members,
    groups,
    messages,
)

__all__ = ["GroupOp", "GroupStore", "GroupTx", "load_state", "member_view",
           "set_app_group_settings"]


def _group_view(row: Any, member_count: int) -> dict[str, Any]:
    return {"group_id": row.group_id, "type": row.type, "name": row.name,
            "face_url": row.face_url, "introduction": row.introduction,
            "notification": row.notification, "owner": row.owner or None,
            "join_option": row.join_option, "mute_all": bool(row.mute_all),
            "max_members": row.max_members, "member_count": member_count,
            "custom": orjson.loads(row.custom), "created_at": row.created_at,
            "updated_at": row.updated_at}


def member_view(row: Any) -> dict[str, Any]:
    return {"user_id": row.user_id, "role": Role(row.role).label, "joined_at": row.joined_at,
            "muted_until": row.muted_until, "name_card": row.name_card}


async def set_app_group_settings(db: Database, sdkappid: int, now: int,
                                 **values: object) -> None:
    """Change some of the app's group settings, keeping the others."""
    s = app_group_settings.c
    async with db.writer.begin() as conn:
        changed = await conn.execute(update(app_group_settings).where(
            s.sdkappid == sdkappid).values(updated_at=now, **values))
        if changed.rowcount == 0:
            await conn.execute(insert(app_group_settings).values(
                sdkappid=sdkappid, updated_at=now, **values))


_g, _cm = groups.c, conversation_members.c
_MEMBER_COLUMNS = (_cm.user_id, _cm.role, _cm.joined_at, _cm.muted_until, _cm.name_card)
_OF_GROUP = (_g.sdkappid == bindparam("sdkappid"), _g.group_id == bindparam("group_id"))
_MEMBER = (select(*_MEMBER_COLUMNS).join(groups, _g.conversation_id == _cm.conversation_id)
           .where(*_OF_GROUP, _cm.user_id == bindparam("user_id")))
_MEMBERS = (select(*_MEMBER_COLUMNS).join(groups, _g.conversation_id == _cm.conversation_id)
            .where(*_OF_GROUP, _cm.user_id > bindparam("user_id")).order_by(_cm.user_id))


def _who(key: ConversationKey, user_id: str) -> dict[str, Any]:
    return {"sdkappid": key.sdkappid, "group_id": key.a, "user_id": user_id}


class GroupStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def default_members(self, sdkappid: int) -> list[str]:
        s = app_group_settings.c
        found = await self._db.scalar(select(s.default_members).where(
            s.sdkappid == sdkappid))
        return [] if found is None else list(orjson.loads(found))

    async def set_default_members(self, sdkappid: int, users: list[str], now: int) -> None:
        await set_app_group_settings(self._db, sdkappid, now,
                                     default_members=orjson.dumps(users).decode())

    async def info(self, key: ConversationKey) -> dict[str, Any] | None:
        g, cm = groups.c, conversation_members.c
        count = (select(func.count()).where(cm.conversation_id == g.conversation_id)
                 .scalar_subquery())
        row = await self._db.first(select(groups, count.label("n")).where(
            g.sdkappid == key.sdkappid, g.group_id == key.a))
        return None if row is None else _group_view(row, row.n)

    async def member(self, key: ConversationKey, user_id: str) -> dict[str, Any] | None:
        row = await self._db.first(_MEMBER, _who(key, user_id))
        return None if row is None else member_view(row)

    async def members(self, key: ConversationKey, *, after: str, limit: int
                      ) -> list[dict[str, Any]]:
        """Members by user id, after ``after``."""
        rows = await self._db.rows(_MEMBERS.limit(limit), _who(key, after))
        return [member_view(r) for r in rows]

    async def members_seen_by(self, key: ConversationKey, viewer: str, *, after: str,
                              limit: int) -> list[dict[str, Any]] | None:
        """``members``, or None when ``viewer`` is not a member (checked in
        the same read)."""
        page = _MEMBERS.limit(limit)

        def read(conn: Connection) -> list[dict[str, Any]] | None:
            if conn.execute(_MEMBER, _who(key, viewer)).first() is None:
                return None
            return [member_view(r) for r in conn.execute(page, _who(key, after))]

        return await self._db.read(read)

    async def app_groups(self, sdkappid: int, *, offset: int, limit: int,
                         type: str | None) -> tuple[list[str], int]:
        """A page of the app's group ids (by id), and how many there are."""
        g = groups.c
        where = [g.sdkappid == sdkappid] + ([g.type == type] if type is not None else [])

        def read(conn: Connection) -> tuple[list[str], int]:
            total = conn.execute(select(func.count()).where(*where)).scalar() or 0
            ids = conn.execute(select(g.group_id).where(*where).order_by(g.group_id)
                               .offset(offset).limit(limit)).scalars().all()
            return list(ids), int(total)

        return await self._db.read(read)

    async def activity(self, key: ConversationKey, user_ids: list[str]
                       ) -> dict[str, tuple[int, int]]:
        """Per member among ``user_ids``: (the seq it has read up to, the time
        (ms) of the last message it sent in the group, 0 if none)."""
        if not user_ids:
            return {}
        g, cm, m = groups.c, conversation_members.c, messages.c

        def read(conn: Connection) -> dict[str, tuple[int, int]]:
            conv = conn.execute(select(g.conversation_id).where(
                g.sdkappid == key.sdkappid, g.group_id == key.a)).scalar()
            if conv is None:
                return {}
            reads = {r.user_id: r.read_seq for r in conn.execute(
                select(cm.user_id, cm.read_seq).where(cm.conversation_id == conv,
                                                      cm.user_id.in_(user_ids)))}
            sent = {r.sender: r.last for r in conn.execute(
                select(m.sender, func.max(m.created_at).label("last"))
                .where(m.conversation_id == conv, m.sender.in_(list(reads)),
                       m.kind == EntryKind.MESSAGE.value)
                .group_by(m.sender))}
            return {u: (int(reads[u]), int(sent.get(u) or 0)) for u in reads}

        return await self._db.read(read)

    async def joined(self, sdkappid: int, user_id: str) -> list[dict[str, Any]]:
        """The groups a user is a member of, with their role, by group id."""
        g, cm = groups.c, conversation_members.c
        rows = await self._db.rows(
            select(g.group_id, g.type, g.name, g.face_url, g.owner, cm.role, cm.joined_at)
            .join(conversation_members, and_(cm.conversation_id == g.conversation_id,
                                             cm.user_id == user_id))
            .where(g.sdkappid == sdkappid).order_by(g.group_id))
        return [{"group_id": r.group_id, "type": r.type, "name": r.name,
                 "face_url": r.face_url, "owner": r.owner or None, "role": Role(r.role).label,
                 "joined_at": r.joined_at} for r in rows]

    async def count(self, key: ConversationKey) -> int:
        g, cm = groups.c, conversation_members.c
        return int(await self._db.scalar(
            select(func.count()).select_from(conversation_members)
            .join(groups, g.conversation_id == cm.conversation_id)
            .where(g.sdkappid == key.sdkappid, g.group_id == key.a)))
