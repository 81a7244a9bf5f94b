"""Replies of the group ops (docs/groups.md, "Group ops"), as the server
answers them (a test runs the ops and checks each reply against these)."""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import TypedDict

from tidings.domain.group_requests import GroupTypeName, JoinOptionName
from tidings.protocol.events import GroupReceipt, JoinRequestView

RoleName = Literal["Owner", "Admin", "Member"]


class GroupCreated(TypedDict):
    group_id: str
    type: GroupTypeName
    member_count: int


class GroupInfo(TypedDict):
    """A group's profile: any user of the app may read it."""

    group_id: str
    type: GroupTypeName
    name: str
    face_url: str
    introduction: str
    notification: str
    owner: str | None
    join_option: JoinOptionName
    mute_all: bool
    max_members: int
    member_count: int
    custom: dict[str, str]
    created_at: int
    updated_at: int


class GroupMember(TypedDict):
    user_id: str
    role: RoleName
    joined_at: int
    muted_until: int
    name_card: str


class GroupMembersReply(TypedDict):
    """A page of members by user id; ``more``: ask again with ``after``."""

    members: list[GroupMember]
    more: bool


class MyGroup(TypedDict):
    """A group the user is in, with the user's role in it."""

    group_id: str
    type: GroupTypeName
    name: str
    face_url: str
    owner: str | None
    role: RoleName
    joined_at: int


class GroupListReply(TypedDict):
    groups: list[MyGroup]


class UsersAdded(TypedDict):
    """Who was added, and who was in already (``group_invite``, ``block``)."""

    added: list[str]
    already: list[str]


class JoinRequestsReply(TypedDict):
    """The applications waiting for the caller's answer."""

    requests: list[JoinRequestView]


class ApplicationsReply(TypedDict):
    """The caller's own applications, pending or answered (kept 7 days)."""

    applications: list[JoinRequestView]


class UsersRemoved(TypedDict):
    """``group_kick``: who was removed, and who was not a member."""

    removed: list[str]
    not_members: list[str]


class MemberMuted(TypedDict):
    user_id: str
    muted_until: int


class MuteAll(TypedDict):
    mute_all: bool


class RoleSet(TypedDict):
    user_id: str
    role: Literal["Admin", "Member"]


class NameCardSet(TypedDict):
    user_id: str
    name_card: str


class GroupReceiptsReply(TypedDict):
    receipts: list[GroupReceipt]


class LiveJoined(TypedDict):
    group_id: str
    member_count: int


class LiveLeft(TypedDict):
    group_id: str
    left: bool


class LiveSent(TypedDict):
    """A Live message is not stored: no seq, only its id and time."""

    msg_id: str
    time: int
    priority: Literal["High", "Normal", "Low"]


class LiveMembersReply(TypedDict):
    members: list[str]
    member_count: int
    more: bool


class GroupApplied(TypedDict):
    """``pending``: the owner and admins are asked; ``joined``: a
    FreeAccess group took the caller at once."""

    group_id: str
    user_id: str
    state: Literal["pending", "joined"]


class GroupUpdated(TypedDict):
    """The profile fields that changed, with their new values."""

    changed: dict[str, Any]


class GroupTransferred(TypedDict):
    owner: str


class GroupDisbanded(TypedDict):
    group_id: str


class GroupReadersReply(TypedDict):
    """Who read (or not, ``read: false``) one of the caller's group
    messages: a page of user ids, with the counts."""

    seq: int
    read_count: int
    unread_count: int
    users: list[str]
    more: bool
