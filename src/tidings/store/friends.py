"""Friends, friend requests, blocks and the app's one-to-one rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.friends import BlockedSenderSees, C2CSettings
from tidings.store.engine import Database
from tidings.store.prepared import Prepared
from tidings.store.schema import app_c2c_settings, blocks, friend_requests, friends

# What a login's first sync reads, built once (building a select cost more
# than running it).
_f, _b, _r = friends.c, blocks.c, friend_requests.c
_LISTED = select(_f.friend_id).where(
    _f.sdkappid == bindparam("sdkappid"), _f.user_id == bindparam("user_id"))
_BLOCKED = select(_b.blocked_id).where(
    _b.sdkappid == bindparam("sdkappid"), _b.user_id == bindparam("user_id"))
_REQUESTS_TO = Prepared(select(friend_requests).where(
    _r.sdkappid == bindparam("sdkappid"), _r.to_user == bindparam("user_id")
).order_by(_r.created_at.desc(), _r.from_user))
_REQUESTS_FROM = Prepared(select(friend_requests).where(
    _r.sdkappid == bindparam("sdkappid"), _r.from_user == bindparam("user_id")
).order_by(_r.created_at.desc(), _r.to_user))


@dataclass(frozen=True, slots=True)
class FriendRequest:
    from_user: str
    to_user: str
    wording: str
    source: str
    remark: str
    created_at: int

    def view(self) -> dict[str, Any]:
        return {"from": self.from_user, "to": self.to_user, "wording": self.wording,
                "source": self.source, "time": self.created_at}


@dataclass(frozen=True, slots=True)
class Friend:
    user_id: str
    friend_id: str
    remark: str
    source: str
    wording: str
    created_at: int
    updated_at: int

    def view(self) -> dict[str, Any]:
        return {"user_id": self.friend_id, "remark": self.remark, "source": self.source,
                "wording": self.wording, "since": self.created_at,
                "updated_at": self.updated_at}


def _request(r: Any) -> FriendRequest:
    return FriendRequest(r.from_user, r.to_user, r.wording, r.source, r.remark, r.created_at)


def _friend(r: Any) -> Friend:
    return Friend(r.user_id, r.friend_id, r.remark, r.source, r.wording, r.created_at,
                  r.updated_at)


class FriendStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        return sqlite.insert(table) if self._db.dialect == "sqlite" else postgresql.insert(table)

    # -- what the send path keeps in memory ---------------------------------------

    async def relations(self, sdkappid: int, user_id: str) -> tuple[set[str], set[str]]:
        """(who is in the user's friend list, whom the user blocks)."""
        who = {"sdkappid": sdkappid, "user_id": user_id}

        def read(conn: Connection) -> tuple[set[str], set[str]]:
            return (set(conn.execute(_LISTED, who).scalars()),
                    set(conn.execute(_BLOCKED, who).scalars()))

        # In one hand-off: a login's first sync reads it when the cache is cold.
        return await self._db.read(read)

    # -- friends -------------------------------------------------------------------

    async def friends_of(self, sdkappid: int, user_id: str) -> list[Friend]:
        f = friends.c
        rows = await self._db.rows(select(friends).where(
            f.sdkappid == sdkappid, f.user_id == user_id).order_by(f.friend_id))
        return [_friend(r) for r in rows]

    async def friend(self, sdkappid: int, user_id: str, friend_id: str) -> Friend | None:
        f = friends.c
        row = await self._db.first(select(friends).where(
            f.sdkappid == sdkappid, f.user_id == user_id, f.friend_id == friend_id))
        return None if row is None else _friend(row)

    async def _add(self, conn: AsyncConnection, sdkappid: int, user_id: str, friend_id: str,
                   remark: str, source: str, wording: str, now: int) -> bool:
        """One side; True when it is new (an existing side is left as it is)."""
        done = await conn.execute(self._insert(friends).values(
            sdkappid=sdkappid, user_id=user_id, friend_id=friend_id, remark=remark,
            source=source, wording=wording, created_at=now, updated_at=now,
        ).on_conflict_do_nothing())
        return bool(done.rowcount)

    async def _drop_requests(self, conn: AsyncConnection, sdkappid: int, a: str,
                             b: str) -> list[FriendRequest]:
        """Remove the requests between a and b (either way); returns them."""
        r = friend_requests.c
        cond = and_(r.sdkappid == sdkappid, or_(and_(r.from_user == a, r.to_user == b),
                                               and_(r.from_user == b, r.to_user == a)))
        found = (await conn.execute(select(friend_requests).where(cond))).all()
        if found:
            await conn.execute(delete(friend_requests).where(cond))
        return [_request(x) for x in found]

    async def befriend(self, sdkappid: int, sides: Sequence[tuple[str, str, str]],
                       source: str, wording: str, now: int
                       ) -> tuple[list[tuple[str, str]], list[FriendRequest]]:
        """Add friendship sides ``(user, friend, remark)`` in one transaction,
        dropping the requests between each pair. Returns the sides that are
        new and the requests that were dropped."""
        added: list[tuple[str, str]] = []
        dropped: list[FriendRequest] = []
        async with self._db.writer.begin() as conn:
            pairs: set[frozenset[str]] = set()
            for user, friend, remark in sides:
                if await self._add(conn, sdkappid, user, friend, remark, source, wording, now):
                    added.append((user, friend))
                pair = frozenset((user, friend))
                if pair not in pairs:
                    pairs.add(pair)
                    dropped += await self._drop_requests(conn, sdkappid, user, friend)
        return added, dropped

    async def accept(self, sdkappid: int, me: str, requester: str, remark: str,
                     now: int) -> tuple[FriendRequest, list[tuple[str, str]],
                                        list[FriendRequest]] | None:
        """Accept requester's pending request to me: both sides become
        friends, the requests between us go. None when no such request."""
        r = friend_requests.c
        async with self._db.writer.begin() as conn:
            row = (await conn.execute(select(friend_requests).where(
                r.sdkappid == sdkappid, r.from_user == requester, r.to_user == me))).first()
            if row is None:
                return None
            req = _request(row)
            dropped = await self._drop_requests(conn, sdkappid, me, requester)
            added = []
            if await self._add(conn, sdkappid, requester, me, req.remark, req.source,
                               req.wording, now):
                added.append((requester, me))
            if await self._add(conn, sdkappid, me, requester, remark, req.source,
                               req.wording, now):
                added.append((me, requester))
        return req, added, dropped

    async def set_remark(self, sdkappid: int, user_id: str, friend_id: str, remark: str,
                         now: int) -> Friend | None:
        f = friends.c
        async with self._db.writer.begin() as conn:
            done = await conn.execute(update(friends).where(
                f.sdkappid == sdkappid, f.user_id == user_id, f.friend_id == friend_id,
            ).values(remark=remark, updated_at=now))
            if not done.rowcount:
                return None
            row = (await conn.execute(select(friends).where(
                f.sdkappid == sdkappid, f.user_id == user_id, f.friend_id == friend_id))).one()
        return _friend(row)

    async def unfriend(self, sdkappid: int, user_id: str, friend_ids: Sequence[str],
                       both: bool) -> list[tuple[str, str]]:
        """Remove friend_ids from user_id's list (and user_id from theirs when
        ``both``); returns the sides removed."""
        f = friends.c
        removed: list[tuple[str, str]] = []
        async with self._db.writer.begin() as conn:
            for other in friend_ids:
                sides = [(user_id, other)] + ([(other, user_id)] if both else [])
                for a, b in sides:
                    done = await conn.execute(delete(friends).where(
                        f.sdkappid == sdkappid, f.user_id == a, f.friend_id == b))
                    if done.rowcount:
                        removed.append((a, b))
        return removed

    # -- requests ------------------------------------------------------------------

    async def put_request(self, req: FriendRequest, sdkappid: int) -> None:
        """Store (or renew: new wording, new time) a pending request."""
        async with self._db.writer.begin() as conn:
            await conn.execute(self._insert(friend_requests).values(
                sdkappid=sdkappid, from_user=req.from_user, to_user=req.to_user,
                wording=req.wording, source=req.source, remark=req.remark,
                created_at=req.created_at,
            ).on_conflict_do_update(
                index_elements=[friend_requests.c.sdkappid, friend_requests.c.from_user,
                                friend_requests.c.to_user],
                set_={"wording": req.wording, "source": req.source, "remark": req.remark,
                      "created_at": req.created_at}))

    async def drop_request(self, sdkappid: int, from_user: str,
                           to_user: str) -> FriendRequest | None:
        r = friend_requests.c
        cond = and_(r.sdkappid == sdkappid, r.from_user == from_user, r.to_user == to_user)
        async with self._db.writer.begin() as conn:
            row = (await conn.execute(select(friend_requests).where(cond))).first()
            if row is None:
                return None
            await conn.execute(delete(friend_requests).where(cond))
        return _request(row)

    async def requests_to(self, sdkappid: int, user_id: str) -> list[FriendRequest]:
        """Pending requests to the user, newest first (what a sync lists)."""
        who = {"sdkappid": sdkappid, "user_id": user_id}
        return [_request(x) for x in await self._db.read_rows(_REQUESTS_TO, who)]

    async def requests_of(self, sdkappid: int, user_id: str
                          ) -> tuple[list[FriendRequest], list[FriendRequest]]:
        """(incoming, outgoing) pending requests, newest first."""
        who = {"sdkappid": sdkappid, "user_id": user_id}

        def read(conn: Connection) -> tuple[Sequence[Row[Any]], Sequence[Row[Any]]]:
            return _REQUESTS_TO.rows(conn, who), _REQUESTS_FROM.rows(conn, who)

        incoming, outgoing = await self._db.read(read)
        return [_request(x) for x in incoming], [_request(x) for x in outgoing]

    # -- blocks --------------------------------------------------------------------

    async def blocks_of(self, sdkappid: int, user_id: str) -> list[tuple[str, int]]:
        b = blocks.c
        rows = await self._db.rows(select(b.blocked_id, b.created_at).where(
            b.sdkappid == sdkappid, b.user_id == user_id).order_by(b.blocked_id))
        return [(r.blocked_id, r.created_at) for r in rows]

    async def block(self, sdkappid: int, user_id: str, others: Sequence[str],
                    now: int) -> list[str]:
        added = []
        async with self._db.writer.begin() as conn:
            for other in others:
                done = await conn.execute(self._insert(blocks).values(
                    sdkappid=sdkappid, user_id=user_id, blocked_id=other, created_at=now,
                ).on_conflict_do_nothing())
                if done.rowcount:
                    added.append(other)
        return added

    async def unblock(self, sdkappid: int, user_id: str, others: Sequence[str]) -> list[str]:
        b = blocks.c
        removed = []
        async with self._db.writer.begin() as conn:
            for other in others:
                done = await conn.execute(delete(blocks).where(
                    b.sdkappid == sdkappid, b.user_id == user_id, b.blocked_id == other))
                if done.rowcount:
                    removed.append(other)
        return removed

    # -- the app's rules ---------------------------------------------------------------

    async def c2c_settings(self, sdkappid: int) -> C2CSettings:
        s = app_c2c_settings.c
        row = await self._db.first(select(app_c2c_settings).where(s.sdkappid == sdkappid))
        if row is None:
            return C2CSettings(sdkappid)
        return C2CSettings(sdkappid, bool(row.needs_friendship),
                           BlockedSenderSees(row.blocked_sender_sees), bool(row.read_receipts))

    async def put_c2c_settings(self, new: C2CSettings, now: int) -> C2CSettings:
        values = {"needs_friendship": int(new.needs_friendship),
                  "blocked_sender_sees": new.blocked_sender_sees.value,
                  "read_receipts": int(new.read_receipts), "updated_at": now}
        async with self._db.writer.begin() as conn:
            await conn.execute(self._insert(app_c2c_settings).values(
                sdkappid=new.sdkappid, **values,
            ).on_conflict_do_update(index_elements=[app_c2c_settings.c.sdkappid], set_=values))
        return new
