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
    state: str  # "normal", "edited" or "recalled"
    edited_at: int | None = None
    # The seq of the change entry that last changed it (0: never changed):
    # of two copies of one message, the one with the higher change_seq is newer.
    change_seq: int = 0
    imported: str | None = None  # "realtime" or "history" for an admin's import
    # In history and sync: [{"emoji", "count", "users"}] (live messages have none).
    reactions: list[dict[str, Any]] = field(default_factory=list, hash=False)

    @property
    def text(self) -> str:
        """The text elements, joined; empty when there are none."""
        return "".join(str(e.get("text", "")) for e in self.elements if e.get("type") == "text")

    @property
    def recalled(self) -> bool:
        return self.state == "recalled"

    def apply(self, change: Change) -> Message:
        """This message with ``change`` applied: the change's copy of it when
        the change is about it and not older than what this copy holds."""
        target = change.target
        if (target is None or change.conversation_id != self.conversation_id
                or change.target_seq != self.seq or target.change_seq < self.change_seq):
            return self
        return target

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Message:
        edited_at = doc.get("edited_at")
        imported = doc.get("imported")
        return cls(msg_id=str(doc["msg_id"]), conversation_id=str(doc["conversation_id"]),
                   seq=int(doc["seq"]), sender=str(doc["sender"]),
                   client_msg_id=str(doc["client_msg_id"]), elements=list(doc["elements"]),
                   cloud_custom_data=str(doc.get("cloud_custom_data", "")),
                   time=int(doc["time"]), state=str(doc.get("state", "normal")),
                   edited_at=None if edited_at is None else int(edited_at),
                   change_seq=int(doc.get("change_seq", 0)),
                   imported=None if imported is None else str(imported),
                   reactions=list(doc.get("reactions", [])))


@dataclass(frozen=True, slots=True)
class Change:
    """A recall or an edit of an earlier message: an entry of the
    conversation's seq stream of its own (``seq``), naming the message it
    changed (``target_seq``) and carrying that message as it now stands
    (``target``). Apply it with :meth:`Message.apply`. As the answer to
    :meth:`Client.recall` / :meth:`Client.edit`, ``duplicate`` tells that the
    message had been recalled before (nothing new was stored)."""

    kind: str  # "recall" or "edit"
    msg_id: str
    conversation_id: str
    seq: int
    time: int
    by: str  # "sender" or "admin"
    target_seq: int
    target: Message | None
    duplicate: bool = False

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Change:
        target = doc.get("target")
        return cls(kind=str(doc["kind"]), msg_id=str(doc["msg_id"]),
                   conversation_id=str(doc["conversation_id"]), seq=int(doc["seq"]),
                   time=int(doc["time"]), by=str(doc.get("by", "sender")),
                   target_seq=int(doc["target_seq"]),
                   target=Message.from_dict(target) if target is not None else None,
                   duplicate=bool(doc.get("duplicate", False)))


@dataclass(frozen=True, slots=True)
class GroupSystem:
    """A group system entry: something happened to the group (``op``:
    created, joined, invited, left, kicked, role_changed, owner_changed,
    muted, unmuted, mute_all, unmute_all, profile_changed,
    name_card_changed, disbanded), by ``by`` (None: the app's admin), with
    the op's own fields in ``fields`` (docs/protocol.md, "Group system
    entries"). An entry of the group's seq stream of its own."""

    op: str
    msg_id: str
    conversation_id: str
    seq: int
    time: int
    by: str | None
    fields: dict[str, Any]
    kind: str = "system"

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> GroupSystem:
        known = {"op", "msg_id", "conversation_id", "seq", "time", "by", "kind"}
        by = doc.get("by")
        return cls(op=str(doc["op"]), msg_id=str(doc["msg_id"]),
                   conversation_id=str(doc["conversation_id"]), seq=int(doc["seq"]),
                   time=int(doc["time"]), by=None if by is None else str(by),
                   fields={k: v for k, v in doc.items() if k not in known})


Entry = Message | Change | GroupSystem


def entry_from(doc: Mapping[str, Any]) -> Entry:
    """An entry of a conversation's seq stream, by its ``kind``."""
    kind = doc.get("kind", "message")
    if kind == "message":
        return Message.from_dict(doc)
    if kind == "system":
        return GroupSystem.from_dict(doc)
    return Change.from_dict(doc)


@dataclass(frozen=True, slots=True)
class Conversation:
    conversation_id: str
    type: str
    last_seq: int
    read_seq: int
    unread: int
    last_time: int
    last_message: Message | None
    # The peer's read cursor (None: the app has read receipts off).
    peer_read_seq: int | None = None
    # This user's own settings of the conversation.
    pinned: bool = False
    muted: bool = False
    hidden: bool = False
    cleared_seq: int = 0
    draft: str = ""

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Conversation:
        last = doc.get("last_message")
        return cls(conversation_id=str(doc["conversation_id"]), type=str(doc["type"]),
                   last_seq=int(doc["last_seq"]), read_seq=int(doc["read_seq"]),
                   unread=int(doc["unread"]), last_time=int(doc["last_time"]),
                   last_message=Message.from_dict(last) if last is not None else None,
                   peer_read_seq=doc.get("peer_read_seq"),
                   pinned=bool(doc.get("pinned", False)), muted=bool(doc.get("muted", False)),
                   hidden=bool(doc.get("hidden", False)),
                   cleared_seq=int(doc.get("cleared_seq", 0)), draft=str(doc.get("draft", "")))


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages in ascending seq order; ``more``: older ones remain (ask again
    with ``before_seq=page.messages[0].seq``); ``newer`` (a page
    ``around_seq`` only): newer ones remain."""

    messages: list[Message]
    more: bool
    newer: bool = False


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


@dataclass(frozen=True, slots=True)
class Notice:
    """A pushed event other than messages, changes and reads: friends and
    blocks (``friend_request``, ``friend_added``, ``blocklist``, ...) and
    ``profile``; ``data`` as docs/protocol.md describes it."""

    event: str
    data: dict[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A message that matched a search: as history shows it, with a piece of
    its text around the match (``highlights``: ``[start, end)`` in ``snippet``)."""

    conversation_id: str
    message: Message
    snippet: str
    highlights: list[tuple[int, int]] = field(hash=False)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> SearchResult:
        return cls(str(doc["conversation_id"]), Message.from_dict(doc["message"]),
                   str(doc["snippet"]), [(int(a), int(b)) for a, b in doc["highlights"]])


@dataclass(frozen=True, slots=True)
class SearchPage:
    """Newest first; when ``more``, pass ``cursor`` to get the next (older) page."""

    results: list[SearchResult]
    more: bool
    cursor: str | None
