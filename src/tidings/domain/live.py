"""Live groups (Tencent's AVChatRoom) as data: message priorities, the
per-room rate limit with priority shedding, the request shapes and the
message view. No I/O here; the rooms live in ``services/live.py``.

A Live group is stored like any group (its id, type, owner and profile), but
its members are not: a member is a connection that joined and is still open.
Nothing said in it is stored (no seq, no history, no unread).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field

from tidings.domain.elements import ELEMENTS, Elements
from tidings.domain.group_requests import GroupId
from tidings.domain.requests import Payload

# Members listed in one answer.
MAX_LISTED_MEMBERS = 1000


class Priority(StrEnum):
    """Tencent's MsgPriority: over the room's rate, Low is shed first, then
    Normal; High is always delivered."""

    HIGH = "High"
    NORMAL = "Normal"
    LOW = "Low"


class RoomLimiter:
    """A token bucket of ``rate`` messages per second holding one second's
    worth. Normal takes a token when there is one; Low only while the bucket
    is at least half full (so under load Low goes first and Normal keeps the
    rest); High always passes and takes a token when there is one."""

    __slots__ = ("_at", "_capacity", "_rate", "_tokens")

    def __init__(self, rate: float, now: float) -> None:
        self._rate = rate
        self._capacity = max(rate, 1.0)
        self._tokens = self._capacity
        self._at = now

    def admit(self, priority: Priority, now: float) -> bool:
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if priority is Priority.LOW:
            floor = self._capacity / 2
        elif priority is Priority.NORMAL:
            floor = 1.0
        else:
            if self._tokens >= 1:
                self._tokens -= 1
            return True
        if self._tokens >= floor:
            self._tokens -= 1
            return True
        return False


class LiveGroupRequest(Payload):
    group_id: str = GroupId


class LiveSendRequest(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "group_id": "show-1", "client_msg_id": "c-1",
        "elements": [{"type": "text", "text": "hello room"}], "priority": "Normal"}]})

    group_id: str = GroupId
    client_msg_id: str = Field(min_length=1, max_length=64)
    elements: Elements
    cloud_custom_data: str = ""
    priority: Literal["High", "Normal", "Low"] = "Normal"

    def elements_json(self) -> bytes:
        return ELEMENTS.dump_json(self.elements)


class LiveMembersRequest(Payload):
    group_id: str = GroupId
    limit: int = Field(100, ge=1, le=MAX_LISTED_MEMBERS)


def message_view(group_id: str, msg_id: str, client_msg_id: str, sender: str,
                 elements: Any, cloud_custom_data: str, priority: Priority,
                 time: int) -> dict[str, Any]:
    return {"conversation_id": f"group_{group_id}", "group_id": group_id, "msg_id": msg_id,
            "client_msg_id": client_msg_id, "sender": sender, "elements": elements,
            "cloud_custom_data": cloud_custom_data, "priority": priority.value, "time": time}
