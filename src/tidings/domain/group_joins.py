"""Join applications as data: their states, sizes, request shapes, what the
applicant and the group's owner and admins see of one, and the app's
before-apply-join callback (Tencent's ``Group.CallbackBeforeApplyJoinGroup``).

No I/O here. An application is judged and written by the message writer
(``store/group_joins.py``), on the group as it stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from tidings.domain.callbacks import (
    TENCENT_APP_CODES,
    CallbackFailure,
    CallbackFormat,
    register_event,
)
from tidings.domain.callbacks import _json_object as json_object
from tidings.domain.friends import read_before_friend_add
from tidings.domain.group_requests import GroupId
from tidings.domain.requests import Payload

MAX_JOIN_MESSAGE_BYTES = 300
# An answered application stays listed to its applicant this long, so one who
# was offline when it was answered finds the answer on reconnect.
ANSWERED_KEPT_MS = 7 * 86400 * 1000
# Pending applications listed in one answer (a sync reply, a list).
MAX_LISTED = 500

BEFORE_APPLY_JOIN = "group_before_apply_join"


class JoinState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


@dataclass(frozen=True, slots=True)
class JoinRequest:
    group_id: str
    user_id: str
    message: str
    state: JoinState
    created_at: int
    handled_by: str | None = None  # None: the app's admin, or not yet
    handled_at: int = 0

    def view(self) -> dict[str, Any]:
        return {"group_id": self.group_id, "user_id": self.user_id, "message": self.message,
                "state": self.state.value, "created_at": self.created_at,
                "handled_by": self.handled_by, "handled_at": self.handled_at}


# -- request shapes (socket ops, client REST, admin REST) ------------------------------

class GroupApplyRequest(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "group_id": "fans", "message": "Hi, I run the Lyon fan club"}]})

    group_id: str = GroupId
    message: str = Field("", max_length=1200)


class ApplyBody(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "message": "Hi, I run the Lyon fan club"}]})

    message: str = Field("", max_length=1200)


class GroupJoinAnswerRequest(Payload):
    group_id: str = GroupId
    user_id: str = Field(max_length=64, examples=["dave"])


class GroupJoinRequestsRequest(Payload):
    # None: every group the caller owns or administers.
    group_id: str | None = Field(None, max_length=64)


# -- the app's callback -------------------------------------------------------------

def _before_apply_join(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"GroupId": data["group_id"], "Type": data["type"],
            "Requestor_Account": data["user_id"], "ApplyMsg": data.get("message", ""),
            "EventTime": data["time"]}


def read_before_apply_join(fmt: CallbackFormat, status: int,
                           body: bytes) -> tuple[bool, int | None, str]:
    """The app's answer: (allowed, the app's code, its text), or
    CallbackFailure. Native: ``{"action": "allow"}`` or ``{"action":
    "reject", "code": ..., "message": ...}``. Tencent: ``ErrorCode`` 0
    allows, 1 refuses, 120001-130000 refuses with that code."""
    if fmt is CallbackFormat.TENCENT:
        doc = json_object(status, body)
        code = doc.get("ErrorCode")
        if not isinstance(code, int) or isinstance(code, bool):
            raise CallbackFailure("the answer has no integer ErrorCode")
        info = doc.get("ErrorInfo")
        text = info[:512] if isinstance(info, str) else ""
        if code == 0:
            return True, None, ""
        if code == 1:
            return False, None, text
        if code in TENCENT_APP_CODES:
            return False, code, text
        raise CallbackFailure(f"ErrorCode {code} is not 0, 1 or 120001-130000")
    # The native answer is the before-friend-add one.
    return read_before_friend_add(fmt, status, body, "")


register_event(BEFORE_APPLY_JOIN, "Group.CallbackBeforeApplyJoinGroup", _before_apply_join)
