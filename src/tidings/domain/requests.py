"""Request shapes shared by the socket protocol and the REST API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tidings.domain.elements import ELEMENTS, Elements, ImportMode
from tidings.domain.push import PushOptions


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SendRequest(Payload):
    conversation_id: str = Field(max_length=128, examples=["c2c_bob"])
    client_msg_id: str = Field(min_length=1, max_length=64, examples=["7f3c1a52-0001"])
    elements: Elements
    cloud_custom_data: str = ""
    # Group messages: the members mentioned ("@all": everyone).
    mentions: list[str] = Field(default_factory=list, max_length=100,
                                examples=[["bob", "@all"]])
    # The push for receivers who are away (docs/push.md).
    offline_push: PushOptions | None = None

    def elements_json(self) -> bytes:
        return ELEMENTS.dump_json(self.elements)


class SyncRequest(Payload):
    known: dict[str, int] = Field(default_factory=dict, max_length=10_000)
    limit: int | None = None


class ReadRequest(Payload):
    seq: int | None = None


class EditRequest(Payload):
    """What replaces a message's content: the elements, the custom data, or
    both; a part left out stays as it is."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"elements": [{"type": "text", "text": "See you at 12:30"}]}]})

    elements: Elements | None = None
    cloud_custom_data: str | None = None

    def elements_json(self) -> bytes | None:
        return None if self.elements is None else ELEMENTS.dump_json(self.elements)


# -- admin API ------------------------------------------------------------------
# Sizes and user ids are checked by the accounts service (stable codes, and the
# same rules for every edge); these shapes only fix the fields and their types.


class AccountIn(Payload):
    user_id: str = Field(examples=["alice"])
    nickname: str | None = Field(None, examples=["Alice"])
    avatar_url: str | None = Field(None, examples=["https://shopx.example/a/alice.png"])


class ImportAccountsRequest(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{"accounts": [
        {"user_id": "alice", "nickname": "Alice",
         "avatar_url": "https://shopx.example/a/alice.png"},
        {"user_id": "bob"}]}]})

    accounts: list[AccountIn] = Field(max_length=10_000)


class UserIdsRequest(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{"user_ids": ["alice", "bob"]}]})

    user_ids: list[str] = Field(max_length=10_000)


ForbiddenCallback = Literal["before_send", "after_send"]


class AccountMuteRequest(Payload):
    """An account's global mute, in seconds from now for each kind of send
    (0 unmutes, 4294967295 is forever); a kind left out keeps its mute."""
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"c2c_seconds": 4294967295, "group_seconds": 7200}]})

    c2c_seconds: int | None = Field(None, ge=0, le=0xFFFFFFFF)
    group_seconds: int | None = Field(None, ge=0, le=0xFFFFFFFF)


class AdminSendRequest(SendRequest):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "from": "alice", "conversation_id": "c2c_bob", "client_msg_id": "order-8812-shipped",
        "elements": [{"type": "text", "text": "Your order has shipped"}]}]})

    sender: str = Field(alias="from", examples=["alice"])
    # Tencent's ForbidCallbackControl: callbacks not to run for this send.
    forbid_callbacks: list[ForbiddenCallback] = Field(default_factory=list, max_length=2)


class AdminBatchSendRequest(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "from": "shop", "to": ["alice", "bob"], "client_msg_id": "promo-2026-11",
        "elements": [{"type": "text", "text": "Black Friday: 20% off today"}]}]})

    sender: str = Field(alias="from", examples=["shop"])
    to: list[str] = Field(max_length=10_000)
    client_msg_id: str = Field(min_length=1, max_length=64, examples=["promo-2026-11"])
    elements: Elements
    cloud_custom_data: str = ""
    forbid_callbacks: list[ForbiddenCallback] = Field(default_factory=list, max_length=2)

    def elements_json(self) -> bytes:
        return ELEMENTS.dump_json(self.elements)


class AdminImportRequest(AdminSendRequest):
    """A message from the past (Tencent's ``importmsg``), stored with its
    ``time``. ``mode``: ``history`` (Tencent's SyncFromOldSystem=2: counts as
    unread for nobody) or ``realtime`` (=1: as a send, unread for the peer)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "from": "alice", "conversation_id": "c2c_bob", "client_msg_id": "legacy-81723",
        "time": 1700000000000, "mode": "history",
        "elements": [{"type": "text", "text": "Order #42 delivered"}]}]})

    time: int = Field(examples=[1700000000000])
    mode: Literal["history", "realtime"] = "history"

    def import_mode(self) -> ImportMode:
        return ImportMode.REALTIME if self.mode == "realtime" else ImportMode.HISTORY


class AdminBroadcastRequest(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "from": "shop", "client_msg_id": "maintenance-2026-11-30",
        "elements": [{"type": "text", "text": "We are down for maintenance at 02:00 UTC"}]}]})

    sender: str = Field(alias="from", examples=["shop"])
    client_msg_id: str = Field(min_length=1, max_length=64)
    elements: Elements
    cloud_custom_data: str = ""

    def elements_json(self) -> bytes:
        return ELEMENTS.dump_json(self.elements)


class RetentionRequest(Payload):
    """How many days an app keeps its messages: 0 for ever (the default),
    up to 3650; checked by the service (docs/operations.md#retention)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"retention_days": 90}]})

    retention_days: int


class CallbacksRequest(Payload):
    """A change of an app's callback settings; values are checked by the
    service (docs/callbacks.md)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "url": "https://shopx.example/im/callback", "token": "s3cret-callback-token",
        "format": "native", "events": {"state_change": False}, "timeout_ms": 2000,
        "failure_policy": "allow"}]})

    url: str | None = Field(None, max_length=4096)
    token: str | None = Field(None, max_length=1024)
    format: str | None = Field(None, max_length=16)
    events: dict[str, bool] | None = Field(None, max_length=64)
    timeout_ms: int | None = None
    failure_policy: str | None = Field(None, max_length=16)
