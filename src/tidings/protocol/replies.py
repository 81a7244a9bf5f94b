"""Replies of the ops (and REST routes) that answer with views: login,
ping, history, the conversation list, read state, a download URL (sync's is in sync_reply.py).
The other ops answer the object their docs page describes."""

from __future__ import annotations

from typing import Literal, NotRequired

from pydantic import ConfigDict, with_config
from pydantic.config import JsonDict
from typing_extensions import TypedDict

from tidings.domain.elements import Element
from tidings.domain.profiles import AllowType, Gender
from tidings.protocol.views import ConversationView, MessageView


class LoginReply(TypedDict):
    """The answer to ``login``: the heartbeat settings (seconds) a client's
    watchdog follows, the send size limit, and how long after a message's
    time its sender may recall or edit it (seconds, 0: no limit), so a
    client offers only what the server allows (docs/protocol.md, "login")."""

    session_id: int
    server_time: int
    heartbeat_interval: float
    heartbeat_timeout: float
    max_message_bytes: int
    recall_window: float
    edit_window: float


class PingReply(TypedDict):
    """The answer to a client's ``ping``: the server's clock (ms)."""

    server_time: int


class ReadState(TypedDict):
    """Where the user's read cursor stands in one conversation (the answer
    to ``read``, and the ``read`` event)."""

    conversation_id: str
    read_seq: int
    unread: int


class HistoryReply(TypedDict):
    """A page of messages, oldest first; ``more``: older ones remain;
    ``newer`` (only for a page ``around_seq``): newer ones remain."""

    messages: list[MessageView]
    more: bool
    newer: NotRequired[bool]


class ConversationsReply(TypedDict):
    conversations: list[ConversationView]


class MediaUrlReply(TypedDict):
    """A signed download URL (a path on the server; no credentials needed)
    and when it stops working (s since the epoch; docs/media.md)."""

    url: str
    expires_at: int
    media_id: str
    variant: str



class SearchResult(TypedDict):
    """A message found, with its text's ``snippet`` and where the words
    matched in it (``highlights``: [start, end) pairs; docs/search.md)."""

    conversation_id: str
    message: MessageView
    snippet: str
    highlights: list[tuple[int, int]]


class SearchReply(TypedDict):
    """Newest first; ``cursor`` asks for the next page while ``more``."""

    results: list[SearchResult]
    more: bool
    cursor: str | None


class TypingReply(TypedDict):
    """``throttled``: too soon after the last one; nobody was told."""

    conversation_id: str
    throttled: bool


class ReactionReply(TypedDict):
    """``changed``: false when the reaction was already there (or gone)."""

    conversation_id: str
    seq: int
    emoji: str
    action: Literal["add", "remove"]
    changed: bool


_PROFILE_EXAMPLE: JsonDict = {
    "user_id": "alice", "nickname": "Alice", "avatar_url": "https://shopx.example/a/alice.png",
    "gender": "female", "birthday": 19900419, "location": "086-021",
    "signature": "Selling vintage cameras", "language": 0, "level": 3, "role": 0,
    "allow_type": "need_confirm", "custom": {"rating": "4.9"}, "updated_at": 1795310000123}


@with_config(ConfigDict(json_schema_extra={"examples": [_PROFILE_EXAMPLE]}))
class ProfileView(TypedDict):
    """A user's profile (docs/profiles.md): what the user sets, what the
    app's server sets, and the app's own ``custom`` fields."""

    user_id: str
    nickname: str
    avatar_url: str
    gender: Gender
    birthday: int
    location: str
    signature: str
    language: int
    level: int
    role: int
    allow_type: AllowType
    custom: dict[str, str]
    updated_at: int


@with_config(ConfigDict(json_schema_extra={"examples": [
    {"profiles": [_PROFILE_EXAMPLE], "missing": ["nobody"]}]}))
class ProfilesReply(TypedDict):
    """In the order asked; unknown and deleted accounts are in ``missing``."""

    profiles: list[ProfileView]
    missing: list[str]


class AppStateReply(TypedDict):
    state: Literal["foreground", "background"]


class MediaVariantView(TypedDict):
    """A version the server made of an upload (``large``, ``thumb``, ``poster``)."""

    url: str
    size: int
    width: int
    height: int
    mime: str


class MediaInfoReply(TypedDict):
    """What an upload is (docs/media.md): its sizes, its versions, and the
    message ``element`` that carries it, ready to send."""

    media_id: str
    kind: Literal["image", "sound", "video", "file"]
    mime: str
    format: str
    name: str
    size: int
    width: int
    height: int
    duration: float
    url: str
    variants: dict[str, MediaVariantView]
    created_at: int
    element: Element
