"""Group request shapes, shared by the socket protocol, the client REST API
and the admin API. Sizes are checked by the groups service (stable codes);
these fix the fields and their types."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from tidings.domain.groups import MAX_MEMBERS_PER_CALL, GroupType, JoinOption
from tidings.domain.requests import Payload

GroupTypeName = Literal["Work", "Public", "Meeting", "Community", "AVChatRoom"]
JoinOptionName = Literal["FreeAccess", "NeedPermission", "DisableApply"]
GroupId = Field(max_length=64, examples=["team-42"])


def join_option(name: JoinOptionName | None) -> JoinOption | None:
    return None if name is None else JoinOption(name)


class _Profile(Payload):
    name: str | None = Field(None, max_length=400, examples=["Team 42"])
    face_url: str | None = Field(None, max_length=2000)
    introduction: str | None = Field(None, max_length=1600)
    notification: str | None = Field(None, max_length=1600)
    custom: dict[str, str] | None = Field(None, max_length=64)
    join_option: JoinOptionName | None = None

    def profile(self) -> dict[str, object]:
        return {k: v for k, v in (("name", self.name), ("face_url", self.face_url),
                                  ("introduction", self.introduction),
                                  ("notification", self.notification),
                                  ("custom", self.custom)) if v is not None}


class GroupCreateRequest(_Profile):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "Work", "group_id": "team-42", "name": "Team 42",
        "members": ["bob", "carol"]}]})

    type: GroupTypeName
    # None: the server chooses one ("@TGS#...").
    group_id: str | None = Field(None, max_length=64)
    members: list[str] = Field(default_factory=list, max_length=MAX_MEMBERS_PER_CALL)

    def group_type(self) -> GroupType:
        return GroupType(self.type)


class AdminGroupCreateRequest(GroupCreateRequest):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "Public", "group_id": "fans", "owner": "alice", "name": "Fans",
        "members": ["bob"]}]})

    owner: str | None = Field(None, examples=["alice"])


class GroupIdRequest(Payload):
    group_id: str = GroupId


class UsersBody(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{"user_ids": ["dave"]}]})

    user_ids: list[str] = Field(max_length=MAX_MEMBERS_PER_CALL)


class RoleBody(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{"user_id": "bob",
                                                               "role": "Admin"}]})

    user_id: str
    role: Literal["Admin", "Member"]


class TransferBody(Payload):
    new_owner: str = Field(examples=["bob"])


class MuteBody(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{"user_id": "bob",
                                                               "seconds": 600}]})

    user_id: str
    # 0 unmutes.
    seconds: int = Field(ge=0)


class NotificationBody(Payload):
    """A group system notification: a text to the members, or only to the
    members of ``to`` (up to 500); live only, stored nowhere."""
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"content": "The shop closes at 18:00 today", "to": ["bob"]}]})

    content: str
    to: list[str] = Field([], max_length=500)


class MuteAllBody(Payload):
    mute_all: bool


class ProfileBody(_Profile):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "notification": "Stand-up at 9:30"}]})


class NameCardBody(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name_card": "Bob (QA)"}]})

    # None: one's own.
    user_id: str | None = None
    name_card: str = Field(max_length=200)


# The socket's ops name the group in their data.

class GroupUsersRequest(UsersBody):
    group_id: str = GroupId


class GroupSetRoleRequest(RoleBody):
    group_id: str = GroupId


class GroupTransferRequest(TransferBody):
    group_id: str = GroupId


class GroupMuteRequest(MuteBody):
    group_id: str = GroupId


class GroupMuteAllRequest(MuteAllBody):
    group_id: str = GroupId


class GroupUpdateRequest(ProfileBody):
    group_id: str = GroupId


class GroupNameCardRequest(NameCardBody):
    group_id: str = GroupId


class GroupMembersRequest(Payload):
    group_id: str = GroupId
    after: str = Field("", max_length=64)
    limit: int = 100


class GroupSettingsBody(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "default_members": ["guest", "support"], "read_receipts_max_members": 500}]})

    # Absent: unchanged.
    default_members: list[str] | None = Field(None, max_length=100)
    # 0 turns group read receipts off; null goes back to the server's default.
    read_receipts_max_members: int | None = Field(None, ge=0, le=100_000)


class GroupReceiptsRequest(Payload):
    group_id: str = GroupId
    seqs: list[int] = Field(min_length=1, max_length=100)


class GroupReadersRequest(Payload):
    group_id: str = GroupId
    seq: int
    # True: who has read the message; false: who has not yet.
    read: bool = True
    after: str = Field("", max_length=64)
    limit: int = 100


class Empty(Payload):
    pass
