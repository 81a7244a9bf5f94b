"""What the SDK hands to the application: plain, immutable dataclasses built
from the protocol's JSON (docs/protocol.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tidings.domain.errors import ErrorCode, TidingsError


@dataclass(frozen=True, slots=True)
class Ack:
    """The server stored a message we sent (``duplicate``: it had already
    stored it under the same ``client_msg_id``; this is the first ack again)."""

    msg_id: str
    conversation_id: str
    seq: int
    time: int
    client_msg_id: str
    duplicate: bool

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Ack:
        return cls(msg_id=str(doc["msg_id"]), conversation_id=str(doc["conversation_id"]),
                   seq=int(doc["seq"]), time=int(doc["time"]),
                   client_msg_id=str(doc["client_msg_id"]), duplicate=bool(doc["duplicate"]))


@dataclass(frozen=True, slots=True)
class Message:
    """A message as this user sees it: ``conversation_id`` names the peer."""

    msg_id: str
    conversation_id: str
    seq: int
    sender: str
    client_msg_id: str
    elements: list[dict[str, Any]] = field(hash=False)
    cloud_custom_data: str
    time: int
    state: str

    @property
    def text(self) -> str:
        """The text elements, joined; empty when there are none."""
        return "".join(str(e.get("text", "")) for e in self.elements if e.get("type") == "text")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Message:
        return cls(msg_id=str(doc["msg_id"]), conversation_id=str(doc["conversation_id"]),
                   seq=int(doc["seq"]), sender=str(doc["sender"]),
                   client_msg_id=str(doc["client_msg_id"]), elements=list(doc["elements"]),
                   cloud_custom_data=str(doc.get("cloud_custom_data", "")),
                   time=int(doc["time"]), state=str(doc.get("state", "normal")))


@dataclass(frozen=True, slots=True)
class Conversation:
    conversation_id: str
    type: str
    last_seq: int
    read_seq: int
    unread: int
    last_time: int
    last_message: Message | None

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Conversation:
        last = doc.get("last_message")
        return cls(conversation_id=str(doc["conversation_id"]), type=str(doc["type"]),
                   last_seq=int(doc["last_seq"]), read_seq=int(doc["read_seq"]),
                   unread=int(doc["unread"]), last_time=int(doc["last_time"]),
                   last_message=Message.from_dict(last) if last is not None else None)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages in ascending seq order; ``more``: older ones remain (ask again
    with ``before_seq=page.messages[0].seq``)."""

    messages: list[Message]
    more: bool


@dataclass(frozen=True, slots=True)
class ReadState:
    """A read cursor: the answer to ``mark_read``, and the ``read`` event that
    the user's other devices receive."""

    conversation_id: str
    read_seq: int
    unread: int

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ReadState:
        return cls(conversation_id=str(doc["conversation_id"]), read_seq=int(doc["read_seq"]),
                   unread=int(doc["unread"]))


def error_from(doc: Any) -> TidingsError:
    """The server's ``{"code", "name", "message"}`` as an exception."""
    if not isinstance(doc, Mapping):
        return TidingsError(ErrorCode.INTERNAL, f"malformed error reply: {doc!r}")
    raw = doc.get("code")
    message = str(doc.get("message", ""))
    try:
        code = ErrorCode(int(raw))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        # A code newer than this SDK: keep its number in the text.
        return TidingsError(ErrorCode.INTERNAL, f"{message} (server error code {raw})")
    return TidingsError(code, message)
