"""Frames of the real-time protocol (docs/protocol.md): parsing and replies.

A client frame is ``{"op": ..., "id": ..., "data": {...}}``; the server
answers ``{"re": id, "ok": true, "data": ...}`` or ``{"re": id, "ok": false,
"error": {...}}`` and pushes ``{"event": ..., "data": ...}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import Field, ValidationError

from tidings.domain.conversations import (
    ConversationDeleteIn,
    ConversationPatch,
    ReactionIn,
    TypingIn,
)
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import FriendAnswerIn, FriendRemarkIn
from tidings.domain.requests import EditRequest, Payload, ReadRequest

RequestId = str | int | None
MAX_REQUEST_ID = 64


class Device(Payload):
    platform: str = Field("", max_length=32)
    id: str = Field("", max_length=64)


class LoginData(Payload):
    sdkappid: int
    user_id: str
    # Missing reads as empty: refused as USERSIG_MISSING, like a missing header.
    usersig: str = Field("", max_length=4096)
    device: Device = Field(default_factory=Device)


class HistoryData(Payload):
    conversation_id: str = Field(max_length=128)
    before_seq: int | None = Field(None, ge=1)
    limit: int | None = None


class ConversationsData(Payload):
    limit: int | None = None


class ReadData(ReadRequest):
    conversation_id: str = Field(max_length=128)


class RecallData(Payload):
    conversation_id: str = Field(max_length=128)
    seq: int


class EditData(EditRequest):
    conversation_id: str = Field(max_length=128)
    seq: int


class Empty(Payload):
    pass


class FriendUserData(Payload):
    user_id: str = Field(max_length=64)


class FriendAcceptData(FriendAnswerIn):
    user_id: str = Field(max_length=64)


class FriendRemarkData(FriendRemarkIn):
    user_id: str = Field(max_length=64)


class ConversationSetData(ConversationPatch):
    conversation_id: str = Field(max_length=128)


class ConversationIdData(Payload):
    conversation_id: str = Field(max_length=128)


class TypingData(TypingIn):
    conversation_id: str = Field(max_length=128)


class ReactionData(ReactionIn):
    conversation_id: str = Field(max_length=128)
    seq: int


class ConversationDeleteData(ConversationDeleteIn):
    conversation_id: str = Field(max_length=128)


class ProfileGetData(Payload):
    # Absent: the caller's own profile.
    user_ids: list[str] | None = Field(None, max_length=10_000)


def invalid(exc: ValidationError) -> TidingsError:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "data"
    # Tencent answers a bad MsgBody with its own code; so do we.
    code = (ErrorCode.INVALID_MESSAGE_BODY if first["loc"][:1] == ("elements",)
            else ErrorCode.INVALID_REQUEST)
    return TidingsError(code, f"{where}: {first['msg']}")


def parse_frame(raw: str | bytes) -> tuple[RequestId, str, dict[str, Any]]:
    """Split a frame into (request id, op, data). Raises with the request id
    when one could be read, so the error can still be matched."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(None, TidingsError(ErrorCode.MALFORMED_JSON,
                                            "frame is not valid JSON")) from exc
    if not isinstance(doc, dict):
        raise FrameError(None, TidingsError(ErrorCode.INVALID_REQUEST,
                                            "frame must be a JSON object"))
    req_id = doc.get("id")
    if isinstance(req_id, bool) or not isinstance(req_id, str | int | None) or (
            isinstance(req_id, str) and len(req_id) > MAX_REQUEST_ID):
        raise FrameError(None, TidingsError(
            ErrorCode.INVALID_REQUEST, f"id must be a string of at most {MAX_REQUEST_ID} "
            "characters or an integer"))
    op = doc.get("op")
    if not isinstance(op, str):
        raise FrameError(req_id, TidingsError(ErrorCode.INVALID_REQUEST, "op must be a string"))
    data = doc.get("data", {})
    if not isinstance(data, dict):
        raise FrameError(req_id, TidingsError(ErrorCode.INVALID_REQUEST,
                                              "data must be a JSON object"))
    return req_id, op, data


class FrameError(Exception):
    def __init__(self, req_id: RequestId, error: TidingsError) -> None:
        super().__init__(error.message)
        self.req_id = req_id
        self.error = error


def ok(req_id: RequestId, data: Any) -> bytes:
    return orjson.dumps({"re": req_id, "ok": True, "data": data})


def fail(req_id: RequestId, error: TidingsError) -> bytes:
    return orjson.dumps({"re": req_id, "ok": False, "error": error.to_dict()})
