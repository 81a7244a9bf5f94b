"""Replies of the ops (and REST routes) that answer with views: login,
ping, history, the conversation list, read state, a download URL (sync's is in sync_reply.py).
The other ops answer the object their docs page describes."""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

from tidings.protocol.views import ConversationView, MessageView


class LoginReply(TypedDict):
    """The answer to ``login``: the heartbeat settings (seconds) a client's
    watchdog follows, and the send size limit (docs/protocol.md, "login")."""

    session_id: int
    server_time: int
    heartbeat_interval: float
    heartbeat_timeout: float
    max_message_bytes: int


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
    """A page of messages, oldest first; ``more``: older ones remain."""

    messages: list[MessageView]
    more: bool


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
