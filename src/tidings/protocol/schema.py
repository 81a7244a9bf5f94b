"""The JSON Schema of the whole protocol: the frames, every op's request
data and every event's data, and the views they hold, in one document. The
TypeScript SDK generates its types from it (``tidings protocol schema``)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from tidings.domain.errors import ErrorCode
from tidings.protocol.events import (
    EVENTS,
    ConversationSettingsEvent,
    FriendView,
    JoinRequestView,
)
from tidings.protocol.friend_replies import (
    BlocklistReply,
    FriendAddReply,
    FriendDeclined,
    FriendRequestsReply,
    FriendsDeleted,
    FriendsReply,
    FriendWithdrawn,
    Unblocked,
)
from tidings.protocol.group_replies import (
    ApplicationsReply,
    GroupApplied,
    GroupCreated,
    GroupDisbanded,
    GroupInfo,
    GroupListReply,
    GroupMembersReply,
    GroupReadersReply,
    GroupReceiptsReply,
    GroupTransferred,
    GroupUpdated,
    JoinRequestsReply,
    LiveJoined,
    LiveLeft,
    LiveMembersReply,
    LiveSent,
    MemberMuted,
    MuteAll,
    NameCardSet,
    RoleSet,
    UsersAdded,
    UsersRemoved,
)
from tidings.protocol.link_replies import (
    LinkConfirmed,
    LinkConversationsReply,
    LinkPreview,
    LinksReply,
    Unlinked,
)
from tidings.protocol.ops import OPS
from tidings.protocol.push_replies import PushDevicesReply, PushDeviceView, PushUnregistered
from tidings.protocol.replies import (
    AppStateReply,
    ConversationsReply,
    HistoryReply,
    LoginReply,
    MediaInfoReply,
    MediaUrlReply,
    PingReply,
    ProfilesReply,
    ProfileView,
    ReactionReply,
    ReadState,
    SearchReply,
    TypingReply,
)
from tidings.protocol.sync_reply import SyncReply
from tidings.protocol.views import ChangeAck, ConversationView, MessageAck

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"

# Each op's reply, by feature (tests/protocol/test_replies_on_the_wire.py
# runs the ops and checks every answer against these). Every op but pong
# (which has no reply) declares one.
_SETTINGS = ConversationSettingsEvent
REPLIES: dict[str, Any] = {
    # session
    "login": LoginReply, "ping": PingReply, "app_state": AppStateReply,
    # messages and conversations
    "send": MessageAck, "recall": ChangeAck, "edit": ChangeAck, "history": HistoryReply,
    "read": ReadState, "sync": SyncReply, "conversations": ConversationsReply,
    "conversation_set": _SETTINGS, "conversation_hide": _SETTINGS,
    "conversation_delete": _SETTINGS, "search": SearchReply, "typing": TypingReply,
    "reaction_add": ReactionReply, "reaction_remove": ReactionReply,
    # profiles, friends, blocks
    "profile_get": ProfilesReply, "profile_set": ProfileView,
    "friend_add": FriendAddReply, "friend_requests": FriendRequestsReply,
    "friend_accept": FriendView, "friend_decline": FriendDeclined,
    "friend_withdraw": FriendWithdrawn, "friends": FriendsReply, "friend_remark": FriendView,
    "friend_delete": FriendsDeleted, "block": UsersAdded, "unblock": Unblocked,
    "blocklist": BlocklistReply,
    # groups
    "group_create": GroupCreated, "group_join": UsersAdded, "group_leave": UsersRemoved,
    "group_invite": UsersAdded, "group_kick": UsersRemoved, "group_set_role": RoleSet,
    "group_transfer": GroupTransferred, "group_mute": MemberMuted, "group_mute_all": MuteAll,
    "group_update": GroupUpdated, "group_set_name_card": NameCardSet,
    "group_disband": GroupDisbanded, "group_info": GroupInfo,
    "group_members": GroupMembersReply, "group_list": GroupListReply,
    "group_receipts": GroupReceiptsReply, "group_readers": GroupReadersReply,
    "group_apply": GroupApplied, "group_join_approve": JoinRequestView,
    "group_join_decline": JoinRequestView, "group_join_requests": JoinRequestsReply,
    "group_applications": ApplicationsReply,
    "live_join": LiveJoined, "live_leave": LiveLeft, "live_send": LiveSent,
    "live_members": LiveMembersReply,
    # push, media, links
    "push_register": PushDeviceView, "push_devices": PushDevicesReply,
    "push_unregister": PushUnregistered, "media_url": MediaUrlReply,
    "media_info": MediaInfoReply, "link_preview": LinkPreview, "link_confirm": LinkConfirmed,
    "links": LinksReply, "unlink": Unlinked, "link_conversations": LinkConversationsReply,
    "link_send": MessageAck, "link_history": HistoryReply, "link_read": ReadState,
    "link_sync": SyncReply, "link_media_url": MediaUrlReply,
}


def protocol_schema() -> dict[str, Any]:
    """``$defs`` holds every model once; ``ops`` maps each op to its request
    data (and reply, where typed), ``events`` each event to its data,
    ``errors`` each stable error code's name to its number."""
    inputs: list[tuple[tuple[str, str], Any, TypeAdapter[Any]]] = []
    for name, model in OPS.items():
        inputs.append((("op", name), "validation", TypeAdapter(model)))
    for name, reply in REPLIES.items():
        inputs.append((("reply", name), "serialization", TypeAdapter(reply)))
    for name, data in EVENTS.items():
        inputs.append((("event", name), "serialization", TypeAdapter(data)))
    inputs.append((("view", "conversation"), "serialization", TypeAdapter(ConversationView)))
    refs, defs = TypeAdapter.json_schemas(inputs, ref_template="#/$defs/{model}")
    ops = {name: {"data": refs[(("op", name), "validation")],
                  **({"reply": refs[(("reply", name), "serialization")]}
                     if name in REPLIES else {})}
           for name in OPS}
    events = {name: {"data": refs[(("event", name), "serialization")]} for name in EVENTS}
    return {
        "$schema": SCHEMA_URI,
        "title": "Tidings real-time protocol",
        "description": "Frames of /v1/ws: a client sends {op, id, data}; the server answers "
                       "{re, ok, data | error} and pushes {event, data} (docs/protocol.md).",
        "ops": ops,
        "events": events,
        "errors": {code.name.lower(): int(code) for code in ErrorCode},
        "$defs": defs.get("$defs", {}),
    }
