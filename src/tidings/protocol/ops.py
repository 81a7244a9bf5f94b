"""The data of the client's ops (docs/protocol.md, "Ops"): one model each.
Shapes that the REST API shares live in domain/ and are named here."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tidings.domain.conversations import (
    ConversationDeleteIn,
    ConversationPatch,
    ReactionIn,
    TypingIn,
)
from tidings.domain.friends import (
    FriendAnswerIn,
    FriendDeleteIn,
    FriendRemarkIn,
    FriendRequestIn,
    UserIdsIn,
)
from tidings.domain.group_joins import (
    GroupApplyRequest,
    GroupJoinAnswerRequest,
    GroupJoinRequestsRequest,
)
from tidings.domain.group_requests import Empty as GroupEmpty
from tidings.domain.group_requests import (
    GroupCreateRequest,
    GroupIdRequest,
    GroupMembersRequest,
    GroupMuteAllRequest,
    GroupMuteRequest,
    GroupNameCardRequest,
    GroupReadersRequest,
    GroupReceiptsRequest,
    GroupSetRoleRequest,
    GroupTransferRequest,
    GroupUpdateRequest,
    GroupUsersRequest,
)
from tidings.domain.links import LinkTicketIn
from tidings.domain.live import LiveGroupRequest, LiveMembersRequest, LiveSendRequest
from tidings.domain.profiles import ProfilePatch
from tidings.domain.push import AppStateRequest, PushRegisterRequest, PushUnregisterRequest
from tidings.domain.requests import EditRequest, Payload, ReadRequest, SendRequest, SyncRequest
from tidings.domain.search import SearchIn


class Device(Payload):
    platform: str = Field("", max_length=32)
    id: str = Field("", max_length=64)


class LoginData(Payload):
    sdkappid: int
    user_id: str
    # Missing reads as empty: refused as USERSIG_MISSING, like a missing header.
    usersig: str = Field("", max_length=4096)
    device: Device = Field(default_factory=Device)


class HistoryData(Payload):
    conversation_id: str = Field(max_length=128)
    before_seq: int | None = Field(None, ge=1)
    # The page around a message (a search hit, a quote) instead of before one.
    around_seq: int | None = Field(None, ge=1)
    limit: int | None = None

    @model_validator(mode="after")
    def _one_anchor(self) -> HistoryData:
        if self.before_seq is not None and self.around_seq is not None:
            raise ValueError("before_seq and around_seq: one or the other")
        return self


class ConversationsData(Payload):
    limit: int | None = None
    # Just these conversations (1 to 100 ids), hidden ones included, those
    # the caller is not in left out; ``limit`` does not apply to them.
    conversation_ids: list[Annotated[str, Field(max_length=128)]] | None = Field(
        None, min_length=1, max_length=100)


class ReadData(ReadRequest):
    conversation_id: str = Field(max_length=128)


class RecallData(Payload):
    conversation_id: str = Field(max_length=128)
    seq: int


class EditData(EditRequest):
    conversation_id: str = Field(max_length=128)
    seq: int


class Empty(Payload):
    pass


class FriendUserData(Payload):
    user_id: str = Field(max_length=64)


class FriendAcceptData(FriendAnswerIn):
    user_id: str = Field(max_length=64)


class FriendRemarkData(FriendRemarkIn):
    user_id: str = Field(max_length=64)


class ConversationSetData(ConversationPatch):
    conversation_id: str = Field(max_length=128)


class ConversationIdData(Payload):
    conversation_id: str = Field(max_length=128)


class TypingData(TypingIn):
    conversation_id: str = Field(max_length=128)


class ReactionData(ReactionIn):
    conversation_id: str = Field(max_length=128)
    seq: int


class ConversationDeleteData(ConversationDeleteIn):
    conversation_id: str = Field(max_length=128)


class ProfileGetData(Payload):
    # Absent: the caller's own profile.
    user_ids: list[str] | None = Field(None, max_length=10_000)


# -- links (a home account acting as its linked identities) --------------------

class LinksData(Payload):
    sdkappid: int | None = Field(None, ge=1)


class AppData(Payload):
    sdkappid: int = Field(ge=1)


class LinkSyncData(SyncRequest):
    sdkappid: int = Field(ge=1)


class LinkHistoryData(HistoryData):
    pass


class LinkReadData(ReadRequest):
    conversation_id: str = Field(max_length=128)


class LinkConversationsData(Payload):
    sdkappid: int | None = Field(None, ge=1)
    limit: int | None = None
    # Just these linked conversations (1 to 100 qualified ids), as
    # ``ConversationsData``'s: hidden ones included, those of no link of the
    # caller's (or of another app than ``sdkappid``) left out.
    conversation_ids: list[Annotated[str, Field(max_length=128)]] | None = Field(
        None, min_length=1, max_length=100)


# -- media ---------------------------------------------------------------------

class MediaUrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    media_id: str = Field(min_length=1, max_length=64)
    variant: Literal["original", "large", "thumb", "poster"] = "original"


class LinkMediaUrlData(MediaUrlRequest):
    """``media_url`` as the caller's linked identity in app ``sdkappid``."""

    sdkappid: int = Field(ge=1)


class MediaInfoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    media_id: str = Field(min_length=1, max_length=64)


# Name -> the model its ``data`` is validated with, in the order of the
# docs' table. The gateway's handlers are checked against it (a test), and
# the schema command writes it out.
OPS: dict[str, type[BaseModel]] = {
    "login": LoginData,
    "sync": SyncRequest,
    "send": SendRequest,
    "recall": RecallData,
    "edit": EditData,
    "history": HistoryData,
    "conversations": ConversationsData,
    "read": ReadData,
    "profile_get": ProfileGetData,
    "profile_set": ProfilePatch,
    "conversation_set": ConversationSetData,
    "conversation_hide": ConversationIdData,
    "conversation_delete": ConversationDeleteData,
    "typing": TypingData,
    "reaction_add": ReactionData,
    "reaction_remove": ReactionData,
    "friend_add": FriendRequestIn,
    "friend_requests": Empty,
    "friend_accept": FriendAcceptData,
    "friend_decline": FriendUserData,
    "friend_withdraw": FriendUserData,
    "friends": Empty,
    "friend_remark": FriendRemarkData,
    "friend_delete": FriendDeleteIn,
    "block": UserIdsIn,
    "unblock": UserIdsIn,
    "blocklist": Empty,
    "group_create": GroupCreateRequest,
    "group_join": GroupIdRequest,
    "group_leave": GroupIdRequest,
    "group_invite": GroupUsersRequest,
    "group_kick": GroupUsersRequest,
    "group_set_role": GroupSetRoleRequest,
    "group_transfer": GroupTransferRequest,
    "group_mute": GroupMuteRequest,
    "group_mute_all": GroupMuteAllRequest,
    "group_update": GroupUpdateRequest,
    "group_set_name_card": GroupNameCardRequest,
    "group_disband": GroupIdRequest,
    "group_info": GroupIdRequest,
    "group_members": GroupMembersRequest,
    "group_list": GroupEmpty,
    "group_receipts": GroupReceiptsRequest,
    "group_readers": GroupReadersRequest,
    "group_apply": GroupApplyRequest,
    "group_join_approve": GroupJoinAnswerRequest,
    "group_join_decline": GroupJoinAnswerRequest,
    "group_join_requests": GroupJoinRequestsRequest,
    "group_applications": GroupEmpty,
    "live_join": LiveGroupRequest,
    "live_leave": LiveGroupRequest,
    "live_send": LiveSendRequest,
    "live_members": LiveMembersRequest,
    "search": SearchIn,
    "push_register": PushRegisterRequest,
    "push_unregister": PushUnregisterRequest,
    "push_devices": Empty,
    "app_state": AppStateRequest,
    "media_url": MediaUrlRequest,
    "media_info": MediaInfoRequest,
    "link_preview": LinkTicketIn,
    "link_confirm": LinkTicketIn,
    "links": LinksData,
    "unlink": AppData,
    "link_conversations": LinkConversationsData,
    "link_history": LinkHistoryData,
    "link_read": LinkReadData,
    "link_sync": LinkSyncData,
    "link_send": SendRequest,
    "link_media_url": LinkMediaUrlData,
    "ping": Empty,
    "pong": Empty,
}
