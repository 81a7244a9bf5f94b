"""Every event the server pushes (``{"event": name, "data": ...}``), with the
model of its ``data``: ``EVENTS`` is the list that the docs' "Events" table,
the JSON Schema and ``event_frame``'s names are checked against.

Events whose data is an entry or a view of its own use that view
(protocol/views.py); the others are declared here."""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import TypedDict

from tidings.domain.elements import Elements
from tidings.protocol.replies import ReadState
from tidings.protocol.views import (
    AppCard,
    ChangeView,
    MessageView,
    SettingsView,
    SystemView,
    UserCard,
)


class PeerReadEvent(TypedDict):
    """A one-to-one peer read up to ``peer_read_seq`` (read receipts on)."""

    conversation_id: str
    peer_read_seq: int


class GroupReceipt(TypedDict):
    seq: int
    read_count: int
    unread_count: int


class GroupReceiptsEvent(TypedDict):
    """New read counts of the receiver's own group messages."""

    conversation_id: str
    receipts: list[GroupReceipt]


class TypingEvent(TypedDict):
    conversation_id: str
    user_id: str
    typing: bool


class ReactionEvent(TypedDict):
    conversation_id: str
    seq: int
    user_id: str
    emoji: str
    action: Literal["add", "remove"]
    time: int


class ConversationSettingsEvent(SettingsView):
    """The user's own settings of a conversation changed on another device."""

    conversation_id: str


class ProfileEvent(TypedDict):
    """The user's own profile, whole, after a change; the standard fields
    (nickname, avatar_url, ...) are those set (docs/profiles.md)."""

    user_id: str
    custom: dict[str, Any]
    updated_at: int


# "from" is a Python keyword: these two are declared the functional way.
FriendRequestView = TypedDict("FriendRequestView", {
    "from": str, "to": str, "wording": str, "source": str, "time": int})
FriendRequestRemovedEvent = TypedDict("FriendRequestRemovedEvent", {
    "from": str, "to": str, "wording": str, "source": str, "time": int,
    "reason": Literal["accepted", "declined", "withdrawn"]})


class FriendView(TypedDict):
    user_id: str
    remark: str
    source: str
    wording: str
    since: int
    updated_at: int


class FriendDeletedEvent(TypedDict):
    user_id: str


class BlocklistEvent(TypedDict):
    added: list[str]
    removed: list[str]


class JoinRequestView(TypedDict):
    """A join application to a NeedPermission group (docs/groups.md)."""

    group_id: str
    user_id: str
    message: str
    state: str
    created_at: int
    handled_by: str | None
    handled_at: int | None


class LiveMessageEvent(TypedDict):
    """A message of a Live (AVChatRoom) group: never stored, no seq."""

    conversation_id: str
    group_id: str
    msg_id: str
    client_msg_id: str
    sender: str
    elements: Elements
    cloud_custom_data: str
    priority: str
    time: int


class LiveClosedEvent(TypedDict):
    group_id: str
    conversation_id: str
    reason: Literal["disbanded"]


class LinkAddedEvent(TypedDict):
    """A home account linked an app identity (docs/linked-identity.md)."""

    app: AppCard
    user: UserCard
    since: int
    # The app user this account was linked as before in that app (a link
    # per app: the new one replaced it), or null.
    replaced: str | None


class LinkRemovedEvent(TypedDict):
    sdkappid: int
    user_id: str
    # Who ended it: the person ("you") or the app's server ("app").
    by: Literal["you", "app"]


class GroupSystemNotificationEvent(TypedDict):
    """The app's server told the group's members (all, or some) a text: not
    a message, stored nowhere (Tencent's group system notification)."""

    group_id: str
    conversation_id: str
    content: str
    time: int


class Empty(TypedDict):
    pass


# Name -> the model of its data, in the order of the docs' table.
EVENTS: dict[str, Any] = {
    "message": MessageView,
    "change": ChangeView,
    "system": SystemView,
    "read": ReadState,
    "peer_read": PeerReadEvent,
    "group_receipts": GroupReceiptsEvent,
    "typing": TypingEvent,
    "reaction": ReactionEvent,
    "conversation_settings": ConversationSettingsEvent,
    "profile": ProfileEvent,
    "friend_request": FriendRequestView,
    "friend_request_removed": FriendRequestRemovedEvent,
    "friend_added": FriendView,
    "friend_updated": FriendView,
    "friend_deleted": FriendDeletedEvent,
    "blocklist": BlocklistEvent,
    "group_join_request": JoinRequestView,
    "group_join_request_handled": JoinRequestView,
    "live_message": LiveMessageEvent,
    "live_closed": LiveClosedEvent,
    "group_system_notification": GroupSystemNotificationEvent,
    "link_added": LinkAddedEvent,
    "link_removed": LinkRemovedEvent,
    "ping": Empty,
}

EventName = Literal[
    "message", "change", "system", "read", "peer_read", "group_receipts", "typing",
    "reaction", "conversation_settings", "profile", "friend_request",
    "friend_request_removed", "friend_added", "friend_updated", "friend_deleted",
    "blocklist", "group_join_request", "group_join_request_handled", "live_message",
    "live_closed", "group_system_notification", "link_added", "link_removed", "ping",
]
