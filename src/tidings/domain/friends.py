"""Friends and blocks: request shapes, limits and the app's one-to-one rules.
Pure: no I/O (services/friends.py applies them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from tidings.domain.callbacks import CallbackFailure, CallbackFormat, register_event
from tidings.domain.callbacks import _json_object as json_object
from tidings.domain.profiles import _max_bytes
from tidings.domain.requests import Payload

MAX_WORDING_BYTES = 256
MAX_REMARK_BYTES = 96
MAX_SOURCE = 32
MAX_BATCH = 100


Wording = Annotated[str, _max_bytes(MAX_WORDING_BYTES)]
Remark = Annotated[str, _max_bytes(MAX_REMARK_BYTES)]


class FriendRequestIn(Payload):
    """Ask ``user_id`` to be friends."""

    user_id: str = Field(max_length=64, examples=["bob"])
    wording: Wording = Field("", examples=["Hi Bob, we met at the camera fair"])
    source: str = Field("", max_length=MAX_SOURCE, examples=["search"])
    remark: Remark = Field("", description="What the caller will call this friend",
                           examples=["Bob (cameras)"])


class FriendAnswerIn(Payload):
    remark: Remark = Field("", description="What the caller will call the new friend")


class FriendRemarkIn(Payload):
    remark: Remark = Field(examples=["Bob (cameras)"])


class FriendDeleteIn(Payload):
    user_ids: list[str] = Field(min_length=1, max_length=MAX_BATCH, examples=[["bob"]])
    # Both sides: each leaves the other's list too (Tencent's Delete_Type_Both).
    both: bool = Field(True, examples=[True])


class UserIdsIn(Payload):
    user_ids: list[str] = Field(min_length=1, max_length=MAX_BATCH, examples=[["mallory"]])


class Verdict:
    """What the send path may do with a one-to-one message."""

    PASS = 0
    UNKNOWN = 1  # someone's lists are not in memory yet: load, then ask again
    DROP = 2     # blocked, and the app lets blocked senders see "sent"


class BlockedSenderSees(StrEnum):
    SENT = "sent"    # an ack as if sent; nothing is stored or delivered
    ERROR = "error"  # 20007, "blocked by the peer" (Tencent's behaviour)


@dataclass(frozen=True, slots=True)
class C2CSettings:
    """An app's one-to-one rules."""

    sdkappid: int
    needs_friendship: bool = False
    blocked_sender_sees: BlockedSenderSees = BlockedSenderSees.SENT
    read_receipts: bool = True

    def view(self) -> dict[str, object]:
        return {"needs_friendship": self.needs_friendship,
                "blocked_sender_sees": self.blocked_sender_sees.value,
                "read_receipts": self.read_receipts}


class C2CSettingsIn(Payload):
    """The app's one-to-one rules; a field left out keeps its value."""

    needs_friendship: bool | None = Field(None, examples=[True])
    blocked_sender_sees: BlockedSenderSees | None = Field(None, strict=False,
                                                          examples=["sent"])
    read_receipts: bool | None = Field(None, examples=[True])


class AdminFriendAddIn(Payload):
    """The app's server makes two users friends at once (no request, no
    confirmation, no before-callback), both ways unless ``both`` is false."""

    friend_id: str = Field(max_length=64, examples=["bob"])
    remark: Remark = ""
    both: bool = True


def read_before_friend_add(fmt: CallbackFormat, status: int, body: bytes,
                           to_user: str) -> tuple[bool, int | None, str]:
    """The app's answer to a before-friend-add callback: (allowed, the app's
    code, its text), or CallbackFailure. Native: ``{"action": "allow"}`` or
    ``{"action": "reject", "code": ..., "message": ...}``. Tencent:
    ``ErrorCode`` 0 and, in ``ResultItem``, the target's ``ResultCode``
    (0 allows; any other refuses with that code)."""
    doc = json_object(status, body)
    if fmt is CallbackFormat.TENCENT:
        code = doc.get("ErrorCode")
        if not isinstance(code, int) or isinstance(code, bool):
            raise CallbackFailure("the answer has no integer ErrorCode")
        if code != 0:
            raise CallbackFailure(f"ErrorCode {code}: {str(doc.get('ErrorInfo', ''))[:200]}")
        items = doc.get("ResultItem") or []
        if not isinstance(items, list):
            raise CallbackFailure("ResultItem must be a list")
        for item in items:
            if isinstance(item, dict) and item.get("To_Account") == to_user:
                result = item.get("ResultCode", 0)
                if not isinstance(result, int) or isinstance(result, bool):
                    raise CallbackFailure("ResultCode must be an integer")
                if result != 0:
                    info = item.get("ResultInfo")
                    return False, result, info[:512] if isinstance(info, str) else ""
        return True, None, ""
    action = doc.get("action")
    if action == "allow":
        return True, None, ""
    if action == "reject":
        code = doc.get("code")
        if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
            raise CallbackFailure("code must be an integer")
        message = doc.get("message")
        return False, code, message[:512] if isinstance(message, str) else ""
    raise CallbackFailure("the answer's action is not 'allow' or 'reject'")


# -- callbacks (Tencent's Sns.* commands) ----------------------------------------------

BEFORE_FRIEND_ADD = "before_friend_add"
AFTER_FRIEND_ADD = "after_friend_add"
AFTER_FRIEND_DELETE = "after_friend_delete"


def _prev_friend_add(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"Requester_Account": data["from"], "From_Account": data["from"],
            "FriendItem": [{"To_Account": data["to"], "Remark": data.get("remark", ""),
                            "GroupName": "", "AddSource": data.get("source", ""),
                            "AddWording": data.get("wording", "")}],
            "AddType": "Add_Type_Both", "ForceAddFlags": 0, "EventTime": data["time"]}


_CLIENT_CMD = {"request": "friend_add", "accept": "friend_response", "admin": "friend_import"}


def _friend_add(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"PairList": [{"From_Account": p["from"], "To_Account": p["to"],
                          "Initiator_Account": p["initiator"]} for p in data["pairs"]],
            "ClientCmd": _CLIENT_CMD.get(str(data.get("cause")), "friend_add"),
            "Admin_Account": "", "ForceFlag": 1 if data.get("cause") == "admin" else 0,
            "EventTime": data["time"]}


def _friend_delete(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"PairList": [{"From_Account": p["from"], "To_Account": p["to"]}
                         for p in data["pairs"]],
            "ClientCmd": "friend_delete", "EventTime": data["time"]}


register_event(BEFORE_FRIEND_ADD, "Sns.CallbackPrevFriendAdd", _prev_friend_add)
register_event(AFTER_FRIEND_ADD, "Sns.CallbackFriendAdd", _friend_add)
register_event(AFTER_FRIEND_DELETE, "Sns.CallbackFriendDelete", _friend_delete)
