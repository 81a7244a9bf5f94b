"""Live groups (Tencent's AVChatRoom): rooms in memory. A member is a
connection that joined the room and is still open; a user is in the room
while at least one of their joined connections is. A reconnecting client
joins again (the SDK does it for the rooms it had joined). Messages are
checked, rate-limited per room with priority shedding, and handed to the
room's connections from memory: never stored, no seq, no history, no unread.

The group itself (id, type, owner, profile) is stored as any group is, and
made, changed and disbanded through the groups service.

In a cluster (docs/cluster.md) each process keeps its own connections'
rooms and tells the bus how many members it has in each: a message goes to
the room's connections here and, once per process, to the processes that
have members in it; member counts add up the processes' (a user connected
to two counts twice); the rate limit is each process's.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from tidings.bus.local import LocalBus
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.groups import GroupType
from tidings.domain.ids import Identity
from tidings.domain.live import Priority, RoomLimiter, message_view
from tidings.protocol.frames import event_frame
from tidings.services.groups import GroupService


class Connection(Protocol):
    """What a room needs of a member's connection (a gateway session)."""

    def reply(self, frame: bytes) -> None: ...


RoomKey = tuple[int, str]


@dataclass(slots=True)
class Room:
    limiter: RoomLimiter
    # user id -> the connections of that user that joined
    members: dict[str, set[Connection]] = field(default_factory=dict)


class LiveService:
    def __init__(self, groups: GroupService, bus: LocalBus, *, rate: float,
                 max_message_bytes: int) -> None:
        self._groups = groups
        self._bus = bus
        self._rate = rate
        self._max_bytes = max_message_bytes
        self._rooms: dict[RoomKey, Room] = {}
        self._joined: dict[Connection, set[RoomKey]] = {}
        groups.on_disband.append(self.close_room)
        groups.live_count = self.count
        bus.on_room_frame(self._from_elsewhere)
        bus.on_change("live_closed", lambda data: self._close_here(data["sdkappid"],
                                                                   data["group_id"]))

    # -- membership --------------------------------------------------------------

    async def join(self, me: Identity, conn: Connection, group_id: str) -> dict[str, Any]:
        key = self._groups.key(me.sdkappid, group_id)
        group = await self._groups.info(me.sdkappid, key.a)  # 10010: no such group
        if group["type"] != GroupType.LIVE.value:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"{key.a!r} is a {group['type']} group, not a Live group: use"
                               " group_join")
        room_key = (me.sdkappid, key.a)
        room = self._rooms.get(room_key)
        if room is None:
            room = self._rooms[room_key] = Room(RoomLimiter(self._rate, time.monotonic()))
        room.members.setdefault(me.user_id, set()).add(conn)
        self._joined.setdefault(conn, set()).add(room_key)
        self._bus.room_members(_room_id(room_key), len(room.members))
        return {"group_id": key.a, "member_count": self.count(*room_key)}

    def leave(self, me: Identity, conn: Connection, group_id: str) -> dict[str, Any]:
        key = self._groups.key(me.sdkappid, group_id)
        room_key = (me.sdkappid, key.a)
        if room_key not in self._joined.get(conn, ()):
            raise TidingsError(ErrorCode.NOT_A_MEMBER,
                               "this connection has not joined that Live group")
        self._drop(conn, room_key, me.user_id)
        return {"group_id": key.a, "left": True}

    def detach(self, me: Identity | None, conn: Connection) -> None:
        """The connection is gone: it leaves every room it joined."""
        keys = self._joined.pop(conn, set())
        if me is None:
            return
        for room_key in keys:
            self._drop(conn, room_key, me.user_id, forget=False)

    def _drop(self, conn: Connection, room_key: RoomKey, user_id: str, *,
              forget: bool = True) -> None:
        if forget:
            joined = self._joined.get(conn)
            if joined is not None:
                joined.discard(room_key)
                if not joined:
                    del self._joined[conn]
        room = self._rooms.get(room_key)
        if room is None:
            return
        conns = room.members.get(user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del room.members[user_id]
        if not room.members:
            del self._rooms[room_key]
        self._bus.room_members(_room_id(room_key), len(room.members))

    def close_room(self, sdkappid: int, group_id: str) -> None:
        """The group was disbanded: its connections are told, the room goes
        (in every process)."""
        self._bus.changed("live_closed", {"sdkappid": sdkappid, "group_id": group_id})
        self._close_here(sdkappid, group_id)

    def _close_here(self, sdkappid: int, group_id: str) -> None:
        self._bus.room_members(_room_id((sdkappid, group_id)), 0)
        room = self._rooms.pop((sdkappid, group_id), None)
        if room is None:
            return
        frame = event_frame("live_closed", {"group_id": group_id,
                                            "conversation_id": f"group_{group_id}",
                                            "reason": "disbanded"})
        for conns in room.members.values():
            for conn in conns:
                conn.reply(frame)
                joined = self._joined.get(conn)
                if joined is not None:
                    joined.discard((sdkappid, group_id))

    def count(self, sdkappid: int, group_id: str) -> int:
        room = self._rooms.get((sdkappid, group_id))
        here = 0 if room is None else len(room.members)
        return here + self._bus.room_count(_room_id((sdkappid, group_id)))

    def members(self, me: Identity, conn: Connection, group_id: str,
                limit: int) -> dict[str, Any]:
        room = self._room_of(me, conn, group_id)
        # The members connected here by name; the others only counted.
        users = sorted(room.members)
        count = self.count(*self._room_key(me, group_id))
        return {"members": users[:limit], "member_count": count,
                "more": count > min(limit, len(users))}

    def _room_of(self, me: Identity, conn: Connection, group_id: str) -> Room:
        key = self._groups.key(me.sdkappid, group_id)
        room_key = (me.sdkappid, key.a)
        room = self._rooms.get(room_key)
        if room is None or room_key not in self._joined.get(conn, ()):
            raise TidingsError(ErrorCode.NOT_A_MEMBER,
                               "join the Live group on this connection first (live_join)")
        return room

    # -- messages ----------------------------------------------------------------

    def send(self, me: Identity, conn: Connection, group_id: str, client_msg_id: str,
             elements_json: bytes, cloud_custom_data: str, priority: Priority
             ) -> dict[str, Any]:
        """Hand a message to the room's other connections, now. Over the
        room's rate a Low or Normal message is shed: 94060."""
        room = self._room_of(me, conn, group_id)
        size = len(elements_json) + len(cloud_custom_data.encode())
        if size > self._max_bytes:
            raise TidingsError(ErrorCode.MESSAGE_TOO_LONG,
                               f"message is {size} bytes; the limit is {self._max_bytes}")
        if not room.limiter.admit(priority, time.monotonic()):
            raise TidingsError(ErrorCode.LIVE_ROOM_BUSY,
                               f"the room is over its rate of {self._rate:g} messages a second:"
                               f" this {priority.value} message was not delivered (High ones"
                               " always are)", {"priority": priority.value})
        now = now_ms()
        msg_id = uuid.uuid4().hex
        gid = self._groups.key(me.sdkappid, group_id).a
        frame = event_frame("live_message", message_view(
            gid, msg_id, client_msg_id, me.user_id, orjson.Fragment(elements_json),
            cloud_custom_data, priority, now))
        for conns in room.members.values():
            for other in conns:
                if other is not conn:
                    other.reply(frame)
        self._bus.room_deliver(_room_id((me.sdkappid, gid)), frame)
        return {"msg_id": msg_id, "time": now, "priority": priority.value}

    def _from_elsewhere(self, room_id: str, frame: bytes) -> None:
        """A room's message sent through another process."""
        sdkappid, _, group_id = room_id.partition(":")
        room = self._rooms.get((int(sdkappid), group_id))
        if room is not None:
            for conns in room.members.values():
                for conn in conns:
                    conn.reply(frame)

    def _room_key(self, me: Identity, group_id: str) -> RoomKey:
        return (me.sdkappid, self._groups.key(me.sdkappid, group_id).a)


def _room_id(room_key: RoomKey) -> str:
    """A room's name on the bus."""
    return f"{room_key[0]}:{room_key[1]}"
