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
from tidings.protocol.ops import OPS
from tidings.protocol.push_replies import PushDevicesReply, PushDeviceView, PushUnregistered
from tidings.protocol.replies import (
    AppStateReply,
    ConversationsReply,
    HistoryReply,
    LoginReply,
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

# Replies whose shape is a view of their own (the other ops answer the
# object their docs page describes).
REPLIES: dict[str, Any] = {
    "login": LoginReply, "ping": PingReply, "media_url": MediaUrlReply,
    "friend_add": FriendAddReply, "friends": FriendsReply, "blocklist": BlocklistReply,
    "conversation_set": ConversationSettingsEvent, "conversation_hide": ConversationSettingsEvent,
    "conversation_delete": ConversationSettingsEvent,
    "friend_requests": FriendRequestsReply, "block": UsersAdded, "group_invite": UsersAdded,
    "group_create": GroupCreated, "group_info": GroupInfo, "group_members": GroupMembersReply,
    "group_list": GroupListReply, "search": SearchReply, "typing": TypingReply,
    "reaction_add": ReactionReply, "reaction_remove": ReactionReply,
    "profile_get": ProfilesReply, "profile_set": ProfileView,
    "group_join_approve": JoinRequestView, "group_join_decline": JoinRequestView,
    "group_join_requests": JoinRequestsReply, "group_applications": ApplicationsReply,
    "unblock": Unblocked, "friend_accept": FriendView, "friend_remark": FriendView,
    "friend_delete": FriendsDeleted, "group_kick": UsersRemoved, "group_mute": MemberMuted,
    "group_mute_all": MuteAll, "group_set_role": RoleSet, "group_set_name_card": NameCardSet,
    "group_receipts": GroupReceiptsReply, "live_join": LiveJoined, "live_leave": LiveLeft,
    "live_send": LiveSent, "live_members": LiveMembersReply, "app_state": AppStateReply,
    "friend_decline": FriendDeclined, "friend_withdraw": FriendWithdrawn,
    "group_join": UsersAdded, "group_leave": UsersRemoved, "group_apply": GroupApplied,
    "group_update": GroupUpdated, "group_transfer": GroupTransferred,
    "group_disband": GroupDisbanded, "push_register": PushDeviceView,
    "push_devices": PushDevicesReply, "push_unregister": PushUnregistered,
    "send": MessageAck, "recall": ChangeAck, "edit": ChangeAck, "link_send": MessageAck,
    "history": HistoryReply, "link_history": HistoryReply, "conversations": ConversationsReply,
    "read": ReadState, "link_read": ReadState, "sync": SyncReply, "link_sync": SyncReply}


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
