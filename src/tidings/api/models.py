"""Response shapes, for the OpenAPI spec and the reader of docs/."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class MessageOut(BaseModel):
    msg_id: str
    conversation_id: str
    seq: int
    sender: str
    client_msg_id: str
    elements: list[dict[str, Any]]
    cloud_custom_data: str
    time: int
    state: Literal["normal", "edited", "recalled"]


class ConversationOut(BaseModel):
    conversation_id: str
    type: Literal["c2c", "group"]
    last_seq: int
    read_seq: int
    unread: int
    last_time: int
    last_message: MessageOut | None


class ConversationListOut(BaseModel):
    conversations: list[ConversationOut]


class HistoryOut(BaseModel):
    messages: list[MessageOut]
    more: bool


class AckOut(BaseModel):
    msg_id: str
    conversation_id: str
    seq: int
    time: int
    client_msg_id: str
    duplicate: bool


class ReadOut(BaseModel):
    conversation_id: str
    read_seq: int
    unread: int


class ErrorBody(BaseModel):
    code: int
    name: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody
