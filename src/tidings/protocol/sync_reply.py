"""The answer to ``sync`` (and ``link_sync``): apart from replies.py
because it holds views the events declare (and events.py imports
replies.py)."""

from __future__ import annotations

from typing import Literal, NotRequired

from typing_extensions import TypedDict

from tidings.protocol.events import FriendRequestView, JoinRequestView
from tidings.protocol.views import ConversationView, EntryView


class GroupLeftView(TypedDict):
    """A group the device still follows (its ``known``) that the user is no
    longer in, and how: ``kicked`` has the entry's ``seq``, ``by`` and
    ``time`` (docs/groups.md, "Join applications")."""

    conversation_id: str
    group_id: str
    op: Literal["left", "kicked", "disbanded", "not_a_member"]
    seq: NotRequired[int]
    by: NotRequired[str | None]
    time: NotRequired[int]


class SyncReply(TypedDict):
    """What a device missed (docs/messages.md, "sync"): entries in seq order
    per conversation, every conversation's state, ``more`` while pages remain;
    plus pending friend requests, join applications and groups left."""

    messages: list[EntryView]
    conversations: list[ConversationView]
    more: bool
    # A user's own sync carries these; a linked identity's (link_sync) does not.
    friend_requests: NotRequired[list[FriendRequestView]]
    group_join_requests: NotRequired[list[JoinRequestView]]
    group_applications: NotRequired[list[JoinRequestView]]
    groups_left: NotRequired[list[GroupLeftView]]
