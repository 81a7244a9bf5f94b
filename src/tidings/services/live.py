"""Live groups (Tencent's AVChatRoom): rooms in memory. A member is a
connection that joined the room and is still open; a user is in the room
while at least one of their joined connections is. A reconnecting client
joins again (the SDK does it for the rooms it had joined). Messages are
checked, rate-limited per room with priority shedding, and handed to the
room's connections from memory: never stored, no seq, no history, no unread.

The group itself (id, type, owner, profile) is stored as any group is, and
made, changed and disbanded through the groups service.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

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
    def __init__(self, groups: GroupService, *, rate: float, max_message_bytes: int) -> None:
        self._groups = groups
        self._rate = rate
        self._max_bytes = max_message_bytes
        self._rooms: dict[RoomKey, Room] = {}
        self._joined: dict[Connection, set[RoomKey]] = {}
        groups.on_disband.append(self.close_room)
        groups.live_count = self.count

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
        return {"group_id": key.a, "member_count": len(room.members)}

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

    def close_room(self, sdkappid: int, group_id: str) -> None:
        """The group was disbanded: its connections are told, the room goes."""
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
        return 0 if room is None else len(room.members)

    def members(self, me: Identity, conn: Connection, group_id: str,
                limit: int) -> dict[str, Any]:
        room = self._room_of(me, conn, group_id)
        users = sorted(room.members)
        return {"members": users[:limit], "member_count": len(users),
                "more": len(users) > limit}

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
        return {"msg_id": msg_id, "time": now, "priority": priority.value}
