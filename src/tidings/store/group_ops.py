"""The operations that change a group, run by the message writer inside its
transaction, so each takes the group's next seq for its system entry and is
judged on the group as it stands.

An operation checks everything first (``domain.group_rights``) and raises a
``TidingsError`` before it writes anything; then it writes and says what the
group looks like now. The reads are in ``store.groups``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from tidings.domain import group_rights
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.group_rights import Action
from tidings.domain.groups import (
    TYPE_RULES,
    GroupState,
    GroupType,
    JoinOption,
    Member,
    Role,
)
from tidings.domain.ids import ConversationKey
from tidings.store import group_departures
from tidings.store.schema import (
    conversation_members,
    conversations,
    groups,
)


@dataclass(slots=True)
class GroupTx:
    """What an operation sees inside the writer's transaction."""

    conn: Connection
    key: ConversationKey
    state: GroupState | None
    conversation_id: int | None
    seq: int          # the seq its system entry will take
    last_msg_no: int  # the group's running message count (for new cursors)
    now: int
    create_conversation: Callable[[], int]


@dataclass(slots=True)
class GroupOutcome:
    # The system entry's content (None: nothing changed, no entry).
    entry: dict[str, Any] | None
    # The group now (None: disbanded).
    state: GroupState | None
    # The answer to the caller.
    result: dict[str, Any] = field(default_factory=dict)


class GroupOp:
    """An operation on one group; ``actor`` None is the app's admin."""

    actor: str | None

    def apply(self, tx: GroupTx) -> GroupOutcome:
        raise NotImplementedError

    def by(self) -> str:
        return "admin" if self.actor is None else self.actor


def _existing(tx: GroupTx) -> GroupState:
    if tx.state is None or tx.conversation_id is None:
        raise TidingsError(ErrorCode.NOT_FOUND, f"no group {tx.key.a!r}")
    return tx.state


def load_state(conn: Connection, conversation_id: int) -> GroupState | None:
    """The group of a conversation, with its members, as stored."""
    g = groups.c
    row = conn.execute(select(g.group_id, g.type, g.owner, g.join_option, g.mute_all,
                              g.max_members).where(g.conversation_id == conversation_id)
                       ).first()
    if row is None:
        return None
    cm = conversation_members.c
    members = {r.user_id: Member(Role(r.role), r.muted_until) for r in conn.execute(
        select(cm.user_id, cm.role, cm.muted_until).where(
            cm.conversation_id == conversation_id)).all()}
    if row.type == GroupType.LIVE and row.owner:
        # A Live group stores no members; its owner keeps the owner's rights.
        members[row.owner] = Member(Role.OWNER)
    return GroupState(row.group_id, GroupType(row.type), row.owner, JoinOption(row.join_option),
                      bool(row.mute_all), row.max_members, members)


def add_rows(tx: GroupTx, conversation_id: int, state: GroupState,
              added: list[tuple[str, Role]]) -> None:
    visible_after = 0 if state.rules.history_before_join else tx.seq - 1
    tx.conn.execute(insert(conversation_members), [
        {"conversation_id": conversation_id, "user_id": user, "sdkappid": tx.key.sdkappid,
         "read_seq": tx.seq, "read_msg_no": tx.last_msg_no, "joined_at": tx.now,
         "role": int(role), "visible_after": visible_after}
        for user, role in added])
    group_departures.forget(tx.conn, conversation_id, [user for user, _ in added])


def _set_member(tx: GroupTx, user: str, **values: Any) -> None:
    cm = conversation_members.c
    tx.conn.execute(update(conversation_members).where(
        cm.conversation_id == tx.conversation_id, cm.user_id == user).values(**values))


def _set_group(tx: GroupTx, **values: Any) -> None:
    g = groups.c
    tx.conn.execute(update(groups).where(g.conversation_id == tx.conversation_id)
                    .values(updated_at=tx.now, **values))


@dataclass
class CreateGroup(GroupOp):
    actor: str | None
    type: GroupType
    owner: str  # "" for none
    members: list[str]
    profile: dict[str, Any]
    join_option: JoinOption | None = None

    def apply(self, tx: GroupTx) -> GroupOutcome:
        if tx.state is not None:
            raise TidingsError(ErrorCode.GROUP_ID_TAKEN, f"group id {tx.key.a!r} is taken")
        rules = TYPE_RULES[self.type]
        join = self.join_option or rules.default_join
        if join is not rules.default_join and not rules.join_settable:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"a {self.type} group's join option is {rules.default_join}")
        everyone = dict.fromkeys(([self.owner] if self.owner else []) + self.members)
        live = self.type is GroupType.LIVE
        if live and len(everyone) > (1 if self.owner else 0):
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "a Live group has no stored members: they join online "
                               "(live_join)")
        if len(everyone) > rules.max_members:
            raise TidingsError(ErrorCode.GROUP_FULL,
                               f"a {self.type} group holds at most {rules.max_members} members")
        conversation_id = tx.create_conversation()
        tx.conn.execute(insert(groups).values(
            sdkappid=tx.key.sdkappid, group_id=tx.key.a, conversation_id=conversation_id,
            type=self.type.value, owner=self.owner, join_option=join.value, mute_all=0,
            max_members=rules.max_members, created_at=tx.now, updated_at=tx.now,
            **{k: v for k, v in self.profile.items() if k != "custom"},
            custom=orjson.dumps(self.profile.get("custom") or {}).decode()))
        state = GroupState(tx.key.a, self.type, self.owner, join, False, rules.max_members,
                           {u: Member(Role.OWNER if u == self.owner else Role.MEMBER)
                            for u in everyone})
        if everyone and not live:
            add_rows(tx, conversation_id, state,
                      [(u, m.role) for u, m in state.members.items()])
        entry = {"op": "created", "by": self.actor, "type": self.type.value,
                 "owner": self.owner or None,
                 "members": list(everyone)[:50], "member_count": len(everyone),
                 "name": self.profile.get("name", "")}
        return GroupOutcome(entry, state, {"group_id": tx.key.a, "type": self.type.value,
                                           "member_count": 0 if live else len(everyone)})


@dataclass
class AddMembers(GroupOp):
    """A user joins by themselves (``join``), or members are invited."""

    actor: str | None
    users: list[str]
    join: bool = False

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state = _existing(tx)
        assert tx.conversation_id is not None
        if state.type is GroupType.LIVE:
            raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                               "a Live group is joined online (live_join), never invited to")
        if self.join:
            assert self.actor is not None
            if self.actor in state.members:
                raise TidingsError(ErrorCode.ALREADY_GROUP_MEMBER,
                                   "you are a member of this group")
            if state.join_option is JoinOption.DISABLED:
                raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                                   "this group is joined by invitation only")
            if state.join_option is JoinOption.NEED_PERMISSION:
                raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                                   "joining this group needs an owner's or admin's approval;"
                                   " ask one of them to invite you")
        else:
            group_rights.check(state, self.actor, Action.INVITE)
        wanted = list(dict.fromkeys(self.users))
        added = [u for u in wanted if u not in state.members]
        already = [u for u in wanted if u in state.members]
        if not added:
            return GroupOutcome(None, state, {"added": [], "already": already})
        if len(state.members) + len(added) > state.max_members:
            raise TidingsError(ErrorCode.GROUP_FULL,
                               f"this group holds at most {state.max_members} members")
        new = state.copy()
        for u in added:
            new.members[u] = Member(Role.MEMBER)
        add_rows(tx, tx.conversation_id, new, [(u, Role.MEMBER) for u in added])
        op = "joined" if self.join else "invited"
        return GroupOutcome({"op": op, "by": self.actor, "users": added}, new,
                            {"added": added, "already": already})


@dataclass
class RemoveMembers(GroupOp):
    """Members leave (``leave``: the actor alone) or are kicked."""

    actor: str | None
    users: list[str]
    leave: bool = False

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state = _existing(tx)
        if state.type is GroupType.LIVE:
            raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                               "a Live group's members are its connections: they leave with"
                               " live_leave or by disconnecting")
        if self.leave:
            assert self.actor is not None
            if self.actor not in state.members:
                raise TidingsError(ErrorCode.NOT_A_MEMBER, "you are not a member of this group")
            if self.actor == state.owner:
                raise TidingsError(ErrorCode.GROUP_OWNER_CANNOT_LEAVE,
                                   "the owner cannot leave: transfer the group or disband it")
        wanted = list(dict.fromkeys(self.users))
        gone = [u for u in wanted if u in state.members]
        missing = [u for u in wanted if u not in state.members]
        for u in gone:
            if not self.leave:
                if u == self.actor:
                    raise TidingsError(ErrorCode.INVALID_REQUEST,
                                       "to leave a group use leave, not kick")
                if u == state.owner:
                    raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                                       "the owner cannot be kicked")
                group_rights.check(state, self.actor, Action.KICK, u)
        if not gone:
            return GroupOutcome(None, state, {"removed": [], "not_members": missing})
        new = state.copy()
        for u in gone:
            del new.members[u]
        cm = conversation_members.c
        tx.conn.execute(delete(conversation_members).where(
            cm.conversation_id == tx.conversation_id, cm.user_id.in_(gone)))
        op = "left" if self.leave else "kicked"
        # So that one removed while offline learns it on reconnect.
        group_departures.record(tx.conn, tx.conversation_id or 0, tx.key.sdkappid, tx.key.a,
                                gone, op, tx.seq, self.actor, tx.now)
        return GroupOutcome({"op": op, "by": self.actor, "users": gone}, new,
                            {"removed": gone, "not_members": missing})


@dataclass
class SetRole(GroupOp):
    actor: str | None
    user: str
    role: Role  # ADMIN or MEMBER

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state = _existing(tx)
        group_rights.check(state, self.actor, Action.SET_ROLE, self.user)
        current = state.role_of(self.user)
        if current is None:
            raise TidingsError(ErrorCode.NOT_A_MEMBER, f"{self.user!r} is not a member")
        if current is Role.OWNER:
            raise TidingsError(ErrorCode.GROUP_NO_PERMISSION,
                               "the owner's role changes only by a transfer")
        if current is self.role:
            return GroupOutcome(None, state, {"user_id": self.user, "role": current.label})
        new = state.copy()
        new.members[self.user] = Member(self.role, new.members[self.user].muted_until)
        _set_member(tx, self.user, role=int(self.role))
        return GroupOutcome({"op": "role_changed", "by": self.actor, "user": self.user,
                             "role": self.role.label}, new,
                            {"user_id": self.user, "role": self.role.label})


@dataclass
class Transfer(GroupOp):
    actor: str | None
    new_owner: str

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state = _existing(tx)
        group_rights.check(state, self.actor, Action.TRANSFER)
        if self.new_owner not in state.members:
            raise TidingsError(ErrorCode.NOT_A_MEMBER, f"{self.new_owner!r} is not a member")
        if self.new_owner == state.owner:
            return GroupOutcome(None, state, {"owner": state.owner})
        new = state.copy()
        old = state.owner
        if old and old in new.members:
            new.members[old] = Member(Role.MEMBER, new.members[old].muted_until)
            _set_member(tx, old, role=int(Role.MEMBER))
        new.members[self.new_owner] = Member(Role.OWNER, 0)
        new.owner = self.new_owner
        _set_member(tx, self.new_owner, role=int(Role.OWNER), muted_until=0)
        _set_group(tx, owner=self.new_owner)
        return GroupOutcome({"op": "owner_changed", "by": self.actor, "from": old or None,
                             "to": self.new_owner}, new, {"owner": self.new_owner})


@dataclass
class Mute(GroupOp):
    """Mute one member until ``until`` (ms; 0 unmutes)."""

    actor: str | None
    user: str
    until: int

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state = _existing(tx)
        group_rights.check(state, self.actor, Action.MUTE, self.user)
        member = state.members.get(self.user)
        if member is None:
            raise TidingsError(ErrorCode.NOT_A_MEMBER, f"{self.user!r} is not a member")
        if member.role is Role.OWNER:
            raise TidingsError(ErrorCode.GROUP_NO_PERMISSION, "the owner cannot be muted")
        until = self.until if self.until > tx.now else 0
        new = state.copy()
        new.members[self.user] = Member(member.role, until)
        _set_member(tx, self.user, muted_until=until)
        return GroupOutcome({"op": "muted" if until else "unmuted", "by": self.actor,
                             "user": self.user, "until": until}, new,
                            {"user_id": self.user, "muted_until": until})


@dataclass
class MuteAll(GroupOp):
    actor: str | None
    on: bool

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state = _existing(tx)
        group_rights.check(state, self.actor, Action.MUTE_ALL)
        if state.mute_all is self.on:
            return GroupOutcome(None, state, {"mute_all": self.on})
        new = state.copy()
        new.mute_all = self.on
        _set_group(tx, mute_all=int(self.on))
        return GroupOutcome({"op": "mute_all" if self.on else "unmute_all", "by": self.actor},
                            new, {"mute_all": self.on})


@dataclass
class UpdateProfile(GroupOp):
    actor: str | None
    profile: dict[str, Any]  # only the fields to change
    join_option: JoinOption | None = None

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state = _existing(tx)
        group_rights.check(state, self.actor, Action.UPDATE_PROFILE)
        new = state
        values = dict(self.profile)
        if "custom" in values:
            values["custom"] = orjson.dumps(values["custom"]).decode()
        changed: dict[str, Any] = dict(self.profile)
        if self.join_option is not None and self.join_option is not state.join_option:
            if not state.rules.join_settable:
                raise TidingsError(ErrorCode.INVALID_REQUEST,
                                   f"a {state.type} group's join option is fixed")
            new = state.copy()
            new.join_option = self.join_option
            values["join_option"] = self.join_option.value
            changed["join_option"] = self.join_option.value
        if not changed:
            return GroupOutcome(None, state, {"changed": {}})
        _set_group(tx, **values)
        return GroupOutcome({"op": "profile_changed", "by": self.actor, "changed": changed},
                            new, {"changed": changed})


@dataclass
class SetNameCard(GroupOp):
    actor: str | None
    user: str
    name_card: str

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state = _existing(tx)
        if self.user != self.actor:
            group_rights.check(state, self.actor, Action.SET_NAME_CARD, self.user)
        if self.user not in state.members:
            raise TidingsError(ErrorCode.NOT_A_MEMBER, f"{self.user!r} is not a member")
        _set_member(tx, self.user, name_card=self.name_card)
        return GroupOutcome({"op": "name_card_changed", "by": self.actor, "user": self.user,
                             "name_card": self.name_card}, state,
                            {"user_id": self.user, "name_card": self.name_card})


@dataclass
class Disband(GroupOp):
    actor: str | None

    def apply(self, tx: GroupTx) -> GroupOutcome:
        state = _existing(tx)
        group_rights.check(state, self.actor, Action.DISBAND)
        # The conversation goes with its members and entries (cascade); the
        # members connected now get the entry, the others find it gone.
        tx.conn.execute(delete(conversations).where(conversations.c.id == tx.conversation_id))
        return GroupOutcome({"op": "disbanded", "by": self.actor}, None,
                            {"group_id": state.group_id})
