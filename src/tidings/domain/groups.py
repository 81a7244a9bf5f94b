"""Groups as data: the types with Tencent's meanings, roles, join options,
group ids, and the state of a group that the writer keeps in memory.

No I/O here. The rights of each role are in ``domain/group_rights.py``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import SERVER_GROUP_ID_PREFIX, check_group_id

__all__ = ["check_group_id"]

MAX_NAME_BYTES = 100
MAX_INTRODUCTION_BYTES = 400
MAX_NOTIFICATION_BYTES = 400
MAX_FACE_URL_BYTES = 500
MAX_NAME_CARD_BYTES = 50
MAX_CUSTOM_KEYS = 16
MAX_CUSTOM_KEY_BYTES = 32
MAX_CUSTOM_VALUE_BYTES = 4096
# Members added or removed by one request.
MAX_MEMBERS_PER_CALL = 500


class GroupType(StrEnum):
    WORK = "Work"
    PUBLIC = "Public"
    MEETING = "Meeting"
    COMMUNITY = "Community"
    # Tencent's AVChatRoom: online-only members, nothing stored (domain/live.py).
    LIVE = "AVChatRoom"


class JoinOption(StrEnum):
    FREE = "FreeAccess"          # anyone may join at once
    NEED_PERMISSION = "NeedPermission"  # an owner or admin approves (not yet: see docs)
    DISABLED = "DisableApply"    # only by invitation


class Role(IntEnum):
    """Stored in ``conversation_members.role``; larger is more."""

    MEMBER = 1
    ADMIN = 2
    OWNER = 3

    @property
    def label(self) -> str:
        return {Role.MEMBER: "Member", Role.ADMIN: "Admin", Role.OWNER: "Owner"}[self]


ROLE_BY_LABEL = {r.label: r for r in Role}


@dataclass(frozen=True, slots=True)
class TypeRules:
    """What a group type means (Tencent's meanings)."""

    max_members: int
    # Who may invite: any member (Work, Community) or owner and admins only.
    members_invite: bool
    # A new member sees the history from before they joined (Meeting).
    history_before_join: bool
    # How one joins without an invitation, and whether the group may change it.
    default_join: JoinOption
    join_settable: bool
    # Any member may change the group's profile (Work), or owner and admins only.
    members_edit_profile: bool
    # The owner may disband (Tencent: not a Work group; the app's admin may).
    owner_disbands: bool


TYPE_RULES: dict[GroupType, TypeRules] = {
    GroupType.WORK: TypeRules(200, True, False, JoinOption.DISABLED, False, True, False),
    GroupType.PUBLIC: TypeRules(2000, False, False, JoinOption.NEED_PERMISSION, True, False,
                                True),
    GroupType.MEETING: TypeRules(10_000, False, True, JoinOption.FREE, False, False, True),
    GroupType.COMMUNITY: TypeRules(100_000, True, False, JoinOption.FREE, True, False, True),
    # Unlimited (as Tencent's): its members are its connections, in memory.
    GroupType.LIVE: TypeRules(2**31 - 1, False, False, JoinOption.FREE, False, False, True),
}


@dataclass(frozen=True, slots=True)
class Member:
    role: Role
    muted_until: int = 0  # ms since the epoch; 0: not muted


@dataclass(slots=True)
class GroupState:
    """What the writer keeps of a group between batches. Replaced, never
    changed in place, once published: a frame in flight keeps the member map
    of its own seq."""

    group_id: str
    type: GroupType
    owner: str
    join_option: JoinOption
    mute_all: bool
    max_members: int
    members: dict[str, Member] = field(default_factory=dict)

    @property
    def rules(self) -> TypeRules:
        return TYPE_RULES[self.type]

    def role_of(self, user_id: str) -> Role | None:
        m = self.members.get(user_id)
        return None if m is None else m.role

    def copy(self) -> GroupState:
        return GroupState(self.group_id, self.type, self.owner, self.join_option,
                          self.mute_all, self.max_members, dict(self.members))


def new_group_id() -> str:
    return f"{SERVER_GROUP_ID_PREFIX}{secrets.token_hex(8).upper()}"


def check_text(name: str, value: str, limit: int) -> str:
    if len(value.encode()) > limit:
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"{name} is longer than {limit} bytes")
    return value


def check_custom(custom: dict[str, str]) -> dict[str, str]:
    if len(custom) > MAX_CUSTOM_KEYS:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"at most {MAX_CUSTOM_KEYS} custom attributes")
    for k, v in custom.items():
        if not k or len(k.encode()) > MAX_CUSTOM_KEY_BYTES:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"custom attribute names are 1 to {MAX_CUSTOM_KEY_BYTES} bytes")
        check_text(f"custom attribute {k!r}", v, MAX_CUSTOM_VALUE_BYTES)
    return custom
