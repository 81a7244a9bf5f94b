"""The data of the client's ops (docs/protocol.md, "Ops"): one model each.
Shapes that the REST API shares live in domain/ and are named here."""

from __future__ import annotations

from pydantic import Field

from tidings.domain.conversations import (
    ConversationDeleteIn,
    ConversationPatch,
    ReactionIn,
    TypingIn,
)
from tidings.domain.friends import FriendAnswerIn, FriendRemarkIn
from tidings.domain.requests import EditRequest, Payload, ReadRequest


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
