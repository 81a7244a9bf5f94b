"""Who may do what in a group: the one place where the rights of each role
are decided (docs/groups.md, "Roles and rights", is the same table in words).

``check`` raises ``GROUP_NO_PERMISSION`` (10007) for a refused action, with
the reason; the app's admin (``actor`` None) may do everything.
"""

from __future__ import annotations

from enum import StrEnum

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.groups import TYPE_RULES, GroupState, GroupType, Role


class Action(StrEnum):
    INVITE = "invite"
    KICK = "kick"
    MUTE = "mute"              # mute or unmute one member
    MUTE_ALL = "mute_all"
    UPDATE_PROFILE = "update_profile"
    SET_NAME_CARD = "set_name_card"  # another member's name card
    SET_ROLE = "set_role"      # promote to admin, demote to member
    TRANSFER = "transfer"
    DISBAND = "disband"
    RECALL = "recall"          # another member's message
    HANDLE_JOIN = "handle_join"  # approve or decline a join application


# action -> the least role that may do it; actions on a member ("on
# lower") need the actor's role above the target's.
_LEAST: dict[Action, Role] = {
    Action.INVITE: Role.ADMIN,
    Action.KICK: Role.ADMIN,
    Action.MUTE: Role.ADMIN,
    Action.MUTE_ALL: Role.ADMIN,
    Action.UPDATE_PROFILE: Role.ADMIN,
    Action.SET_NAME_CARD: Role.ADMIN,
    Action.SET_ROLE: Role.OWNER,
    Action.TRANSFER: Role.OWNER,
    Action.DISBAND: Role.OWNER,
    Action.RECALL: Role.ADMIN,
    Action.HANDLE_JOIN: Role.ADMIN,
}
_ON_LOWER = {Action.KICK, Action.MUTE, Action.SET_NAME_CARD, Action.SET_ROLE, Action.RECALL}


def least_role(group: GroupState, action: Action) -> Role | None:
    """The least role for ``action`` in this group; None: only the app's admin."""
    rules = group.rules
    if action is Action.INVITE and rules.members_invite:
        return Role.MEMBER
    if action is Action.UPDATE_PROFILE and rules.members_edit_profile:
        return Role.MEMBER
    if action is Action.DISBAND and not rules.owner_disbands:
        return None
    return _LEAST[action]


def check(group: GroupState, actor: str | None, action: Action,
          target: str | None = None) -> None:
    """Raise unless ``actor`` (None: the app's admin) may do ``action`` (to
    member ``target``, where it names one) in ``group``."""
    if actor is None:
        return
    role = group.role_of(actor)
    if role is None:
        raise TidingsError(ErrorCode.NOT_A_MEMBER, "you are not a member of this group")
    least = least_role(group, action)
    if least is None:
        raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                           f"in a {group.type} group only the app's admin may {action}")
    if role < least:
        raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                           f"a group {role.label.lower()} may not {action.replace('_', ' ')}")
    if target is not None and action in _ON_LOWER:
        target_role = group.role_of(target)
        if target_role is not None and target != actor and target_role >= role:
            raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                               f"a group {role.label.lower()} may not {action.replace('_', ' ')}"
                               f" a group {target_role.label.lower()}")


def check_send(group: GroupState, sender: str, now: int) -> None:
    """A member may speak unless muted, or unless the whole group is muted
    (its owner and admins still speak)."""
    if group.type is GroupType.LIVE:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           "a Live group's messages are not stored: send them with live_send")
    member = group.members.get(sender)
    if member is None:
        raise TidingsError(ErrorCode.NOT_A_MEMBER, "you are not a member of this group")
    if member.muted_until > now:
        raise TidingsError(ErrorCode.GROUP_MUTED, "you are muted in this group",
                           {"muted_until": member.muted_until})
    if group.mute_all and member.role is Role.MEMBER:
        raise TidingsError(ErrorCode.GROUP_MUTED, "the whole group is muted")


def rights_table() -> dict[str, dict[str, list[str]]]:
    """The table as data, per group type: action -> the roles that may. (A
    Live group has no stored members, so no roles but its owner: its rules
    are in docs/groups.md, "Live groups".)"""
    table: dict[str, dict[str, list[str]]] = {}
    for t in GroupType:
        if t is GroupType.LIVE:
            continue
        probe = GroupState("", t, "", TYPE_RULES[t].default_join, False, 0)
        table[t.value] = {}
        for a in Action:
            least = least_role(probe, a)
            table[t.value][a.value] = [] if least is None else [
                r.label for r in Role if r >= least]
    return table
