"""Response shapes, for the OpenAPI spec and the reader of docs/."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tidings.protocol.replies import (
    ConversationsReply,
    HistoryReply,
    ProfilesReply,
    ProfileView,
    ReadState,
)
from tidings.protocol.views import ChangeAck, ConversationView, MessageAck, MessageView

# The protocol's own views and replies (protocol/), under the names the
# routes declare: one declaration for the socket, REST and the schema.
MessageOut = MessageView
ChangeAckOut = ChangeAck
ConversationOut = ConversationView
ConversationListOut = ConversationsReply
HistoryOut = HistoryReply
AckOut = MessageAck
ReadOut = ReadState
ProfileOut = ProfileView
ProfilesOut = ProfilesReply


class ErrorBody(BaseModel):
    code: int
    name: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


# -- admin API ------------------------------------------------------------------


class ImportResultOut(BaseModel):
    user_id: str
    result: Literal["created", "updated"]


class ImportOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"results": [
        {"user_id": "alice", "result": "created"}, {"user_id": "bob", "result": "updated"}]}]}}

    results: list[ImportResultOut]


class CheckOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"existing": ["alice"], "missing": ["zoe"]}]}}

    existing: list[str]
    missing: list[str]


class AccountOut(BaseModel):
    user_id: str
    state: Literal["active", "disabled", "deleted"]
    nickname: str
    created_at: int = Field(description="ms since the epoch")
    last_login_at: int | None = Field(description="ms since the epoch; null: never logged in")


class AccountListOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"users": [{"user_id": "alice", "state": "active", "nickname": "Alice",
                    "created_at": 1795310000123, "last_login_at": 1795320000456}],
         "next": "alice"}]}}

    users: list[AccountOut]
    next: str | None = Field(description="the `after` of the next page; null: the last page")


class DeleteResultOut(BaseModel):
    user_id: str
    result: Literal["deleted", "not_found"]


class DeleteOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"results": [
        {"user_id": "alice", "result": "deleted"}, {"user_id": "zoe", "result": "not_found"}]}]}}

    results: list[DeleteResultOut]


class MuteOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"user_id": "alice", "c2c_seconds": 4294967295, "group_seconds": 7196}]}}

    user_id: str
    c2c_seconds: int = Field(description="seconds left; 0: not muted, 4294967295: forever")
    group_seconds: int = Field(description="seconds left; 0: not muted, 4294967295: forever")


class StateOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"user_id": "alice", "state": "disabled", "sessions_closed": 2}]}}

    user_id: str
    state: Literal["active", "disabled"]
    sessions_closed: int


class KickOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"user_id": "alice", "sessions_closed": 2, "sessions_valid_after": 1795310000123}]}}

    user_id: str
    sessions_closed: int
    sessions_valid_after: int


class UnreadConversationOut(BaseModel):
    conversation_id: str
    unread: int


class UnreadOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "user_id": "bob", "total": 5, "conversations": [
            {"conversation_id": "c2c_alice", "unread": 3},
            {"conversation_id": "c2c_shop", "unread": 2}]}]}}

    user_id: str
    total: int
    conversations: list[UnreadConversationOut]


class DeviceOut(BaseModel):
    session_id: int
    platform: str
    device_id: str
    since: int


class OnlineOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"user_id": "alice", "online": True, "devices": [
            {"session_id": 17, "platform": "ios", "device_id": "phone-1",
             "since": 1795310000123}]}]}}

    user_id: str
    online: bool
    devices: list[DeviceOut]


class BatchResultOut(BaseModel):
    to: str
    ack: AckOut | None
    error: ErrorBody | None


class BatchOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"results": [
        {"to": "alice", "ack": {"msg_id": "41-7", "conversation_id": "c2c_alice", "seq": 7,
                                "time": 1795310000123, "client_msg_id": "promo-2026-11:alice",
                                "duplicate": False}, "error": None},
        {"to": "shop", "ack": None, "error": {
            "code": 10009, "name": "invalid_conversation_id",
            "message": "a one-to-one conversation needs two different users"}}]}]}}

    results: list[BatchResultOut]


class BroadcastOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"broadcast_id": 3, "from": "shop", "client_msg_id": "maintenance-2026-11-30",
         "state": "running", "sent": 1500, "skipped": 0, "created_at": 1795310000123,
         "finished_at": None}]}}

    broadcast_id: int
    sender: str = Field(alias="from")
    client_msg_id: str
    state: Literal["running", "done", "failed"]
    sent: int
    skipped: int
    created_at: int
    finished_at: int | None


class BroadcastStartOut(BroadcastOut):
    duplicate: bool


class BroadcastListOut(BaseModel):
    broadcasts: list[BroadcastOut]


class StatsOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"day": "2026-11-22", "registered_users": 10520, "active_users_today": 2210,
         "messages_today": 48210, "connections_now": 1893}]}}

    day: str
    registered_users: int
    active_users_today: int
    messages_today: int
    connections_now: int


# -- callbacks ----------------------------------------------------------------------


class CallbacksOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "url": "https://shopx.example/im/callback", "token": "s3cret-callback-token",
        "format": "native", "events": {"before_send": True, "after_send": True,
                                       "after_read": True, "state_change": False},
        "timeout_ms": 2000, "failure_policy": "allow", "updated_at": 1795310000123}]}}

    url: str
    token: str
    format: Literal["native", "tencent"]
    events: dict[str, bool]
    timeout_ms: int
    failure_policy: Literal["allow", "block"]
    updated_at: int


class RetentionOut(BaseModel):
    """Days the app keeps its messages; 0: for ever."""
    retention_days: int


class DeletedOut(BaseModel):
    deleted: bool


class DeliveryOut(BaseModel):
    id: int
    event: str
    event_id: str
    status: Literal["pending", "delivered", "failed", "skipped"]
    attempts: int
    next_attempt_at: int | None
    last_error: str
    created_at: int
    updated_at: int
    delivered_at: int | None


class DeliveriesOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"deliveries": [
        {"id": 42, "event": "after_send", "event_id": "9f1c0e5b2a7d4c3e8b6a1f20",
         "status": "pending", "attempts": 2, "next_attempt_at": 1795310004123,
         "last_error": "HTTP 502", "created_at": 1795310000123, "updated_at": 1795310002123,
         "delivered_at": None},
        {"id": 41, "event": "state_change", "event_id": "0c2b6e1d9a8f7e6d5c4b3a29",
         "status": "delivered", "attempts": 1, "next_attempt_at": None, "last_error": "",
         "created_at": 1795309990000, "updated_at": 1795309990050,
         "delivered_at": 1795309990050}]}]}}

    deliveries: list[DeliveryOut]


class CallbackTestOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "ok": True, "error": "", "latency_ms": 12.5, "delivery": {
            "id": 43, "event": "test", "event_id": "5d4c3b2a1f0e9d8c7b6a5f4e",
            "status": "delivered", "attempts": 1, "next_attempt_at": None, "last_error": "",
            "created_at": 1795310000123, "updated_at": 1795310000136,
            "delivered_at": 1795310000136}}]}}

    ok: bool
    error: str
    latency_ms: float
    delivery: DeliveryOut
