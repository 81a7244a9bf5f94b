"""Groups: create, join, leave, invite, kick, roles, transfer, mute, profile,
name cards, disband, and reading them. Every change goes through the message
writer as a ``NewGroupOp``: judged on the group as it stands (rights in
``domain/group_rights.py``), written with its system entry at the group's
next seq, and fanned out to the members by ``MessagingService.on_commit``.

``actor`` None is the app's admin (the admin API), who may do everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.group_callbacks import ALL_OP_EVENTS
from tidings.domain.groups import (
    MAX_FACE_URL_BYTES,
    MAX_INTRODUCTION_BYTES,
    MAX_MEMBERS_PER_CALL,
    MAX_NAME_BYTES,
    MAX_NAME_CARD_BYTES,
    MAX_NOTIFICATION_BYTES,
    GroupType,
    JoinOption,
    Role,
    check_custom,
    check_text,
    new_group_id,
)
from tidings.domain.ids import ConversationKey, check_group_id, check_user_id, group_key
from tidings.domain.records import NewGroupOp
from tidings.services.group_defaults import DEFAULTS_TTL, GroupDefaults
from tidings.store.group_ops import (
    AddMembers,
    CreateGroup,
    Disband,
    GroupOp,
    Mute,
    MuteAll,
    RemoveMembers,
    SetNameCard,
    SetRole,
    Transfer,
    UpdateProfile,
)
from tidings.store.groups import GroupStore
from tidings.store.writer import MessageWriter

if TYPE_CHECKING:
    from tidings.services.callbacks import CallbackService

_TEXT_LIMITS = {"name": MAX_NAME_BYTES, "face_url": MAX_FACE_URL_BYTES,
                "introduction": MAX_INTRODUCTION_BYTES,
                "notification": MAX_NOTIFICATION_BYTES}
# The longest mute: ten years (Tencent allows up to about 68 years of seconds).
MAX_MUTE_SECONDS = 366 * 86400 * 10


def _users(users: list[str], *, at_least: int = 1) -> list[str]:
    if not at_least <= len(users) <= MAX_MEMBERS_PER_CALL:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"give {at_least} to {MAX_MEMBERS_PER_CALL} user ids")
    return [check_user_id(u) for u in dict.fromkeys(users)]


def profile_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The profile fields given (name, face_url, introduction, notification,
    custom), checked."""
    out: dict[str, Any] = {}
    for name, limit in _TEXT_LIMITS.items():
        value = fields.get(name)
        if value is not None:
            out[name] = check_text(name, value, limit)
    if fields.get("custom") is not None:
        out["custom"] = check_custom(fields["custom"])
    return out


class GroupService:
    def __init__(self, store: GroupStore, writer: MessageWriter,
                 callbacks: CallbackService | None = None, *,
                 ttl: float = DEFAULTS_TTL) -> None:
        self._store = store
        self._writer = writer
        self._callbacks = callbacks
        self.defaults = GroupDefaults(store, ttl)
        # Told (sdkappid, group id) after a disband; Live rooms close then.
        self.on_disband: list[Callable[[int, str], None]] = []
        # The online member count of a Live group (set by the live service).
        self.live_count: Callable[[int, str], int] | None = None

    async def _run(self, key: ConversationKey, op: GroupOp) -> dict[str, Any]:
        wanted: frozenset[str] = frozenset()
        if self._callbacks is not None:
            settings = await self._callbacks.settings(key.sdkappid)
            if settings is not None:
                wanted = frozenset(e for e in ALL_OP_EVENTS if settings.enabled(e))
        committed = await asyncio.shield(self._writer.submit(NewGroupOp(key, op,
                                                                        callbacks=wanted)))
        if wanted and not committed.duplicate and self._callbacks is not None:
            self._callbacks.wake()
        result: dict[str, Any] = committed.result
        return result

    async def run(self, key: ConversationKey, op: GroupOp) -> dict[str, Any]:
        """Run an operation of another module (join applications) as ours are run."""
        return await self._run(key, op)

    @staticmethod
    def key(sdkappid: int, group_id: object) -> ConversationKey:
        return group_key(sdkappid, check_group_id(group_id))

    # -- changes ---------------------------------------------------------------

    async def create(self, sdkappid: int, actor: str | None, *, type: GroupType,
                     group_id: str | None, owner: str | None, members: list[str],
                     profile: dict[str, Any],
                     join_option: JoinOption | None) -> dict[str, Any]:
        """A user creates a group and owns it; the app's admin names the
        owner (or none). The app's default members join too."""
        # A Live group stores no members: the app's default members are not added.
        default_members = [] if type is GroupType.LIVE else await self.default_members(sdkappid)
        gid = new_group_id() if group_id is None else check_group_id(group_id,
                                                                     chosen_by_app=True)
        if actor is not None:
            owner = actor
        owner = "" if owner is None else check_user_id(owner)
        everyone = _users(members + list(default_members or ()), at_least=0)
        op = CreateGroup(actor, type, owner, everyone, profile_fields(profile), join_option)
        result = await self._run(group_key(sdkappid, gid), op)
        return result

    async def join(self, sdkappid: int, user: str, group_id: str) -> dict[str, Any]:
        return await self._run(self.key(sdkappid, group_id), AddMembers(user, [user], join=True))

    async def invite(self, sdkappid: int, actor: str | None, group_id: str,
                     users: list[str]) -> dict[str, Any]:
        return await self._run(self.key(sdkappid, group_id), AddMembers(actor, _users(users)))

    async def leave(self, sdkappid: int, user: str, group_id: str) -> dict[str, Any]:
        return await self._run(self.key(sdkappid, group_id),
                               RemoveMembers(user, [user], leave=True))

    async def kick(self, sdkappid: int, actor: str | None, group_id: str,
                   users: list[str]) -> dict[str, Any]:
        return await self._run(self.key(sdkappid, group_id), RemoveMembers(actor, _users(users)))

    async def set_role(self, sdkappid: int, actor: str | None, group_id: str, user: str,
                       role: str) -> dict[str, Any]:
        if role not in ("Admin", "Member"):
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "role must be 'Admin' or 'Member' (the owner changes by transfer)")
        return await self._run(self.key(sdkappid, group_id),
                               SetRole(actor, check_user_id(user),
                                       Role.ADMIN if role == "Admin" else Role.MEMBER))

    async def transfer(self, sdkappid: int, actor: str | None, group_id: str,
                       new_owner: str) -> dict[str, Any]:
        return await self._run(self.key(sdkappid, group_id),
                               Transfer(actor, check_user_id(new_owner)))

    async def mute(self, sdkappid: int, actor: str | None, group_id: str, user: str,
                   seconds: int) -> dict[str, Any]:
        """Mute ``user`` for ``seconds`` (0 unmutes)."""
        if not 0 <= seconds <= MAX_MUTE_SECONDS:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"seconds must be between 0 and {MAX_MUTE_SECONDS}")
        until = now_ms() + seconds * 1000 if seconds else 0
        return await self._run(self.key(sdkappid, group_id),
                               Mute(actor, check_user_id(user), until))

    async def mute_all(self, sdkappid: int, actor: str | None, group_id: str,
                       on: bool) -> dict[str, Any]:
        return await self._run(self.key(sdkappid, group_id), MuteAll(actor, on))

    async def update(self, sdkappid: int, actor: str | None, group_id: str,
                     fields: dict[str, Any], join_option: JoinOption | None) -> dict[str, Any]:
        return await self._run(self.key(sdkappid, group_id),
                               UpdateProfile(actor, profile_fields(fields), join_option))

    async def set_name_card(self, sdkappid: int, actor: str | None, group_id: str,
                            user: str, name_card: str) -> dict[str, Any]:
        check_text("name_card", name_card, MAX_NAME_CARD_BYTES)
        return await self._run(self.key(sdkappid, group_id),
                               SetNameCard(actor, check_user_id(user), name_card))

    async def disband(self, sdkappid: int, actor: str | None, group_id: str) -> dict[str, Any]:
        key = self.key(sdkappid, group_id)
        result = await self._run(key, Disband(actor))
        for listener in self.on_disband:
            listener(sdkappid, key.a)
        return result

    # -- the app's setting ----------------------------------------------------------

    async def default_members(self, sdkappid: int) -> list[str]:
        """The accounts added to every new group of the app (cached briefly)."""
        return await self.defaults.get(sdkappid)

    async def set_default_members(self, sdkappid: int, users: list[str]) -> dict[str, Any]:
        return {"default_members": await self.defaults.put(sdkappid, users)}

    # -- reads -----------------------------------------------------------------

    async def info(self, sdkappid: int, group_id: str) -> dict[str, Any]:
        """A group's profile: any user of the app may read it."""
        found = await self._store.info(self.key(sdkappid, group_id))
        if found is None:
            raise TidingsError(ErrorCode.NOT_FOUND, f"no group {group_id!r}")
        if found["type"] == GroupType.LIVE.value and self.live_count is not None:
            # Its members are its open connections, not rows.
            found["member_count"] = self.live_count(sdkappid, found["group_id"])
        return found

    async def members(self, sdkappid: int, viewer: str | None, group_id: str, *,
                      after: str, limit: int) -> dict[str, Any]:
        """A page of members by user id; only members (and the app's admin)
        may list them."""
        key = self.key(sdkappid, group_id)
        if not 1 <= limit <= 1000:
            if viewer is not None and await self._store.member(key, viewer) is None:
                await self._not_a_member(sdkappid, group_id)
            raise TidingsError(ErrorCode.INVALID_REQUEST, "limit must be between 1 and 1000")
        if viewer is None:
            found = await self._store.members(key, after=after, limit=limit + 1)
        else:  # the viewer's membership and the page in one read
            seen = await self._store.members_seen_by(key, viewer, after=after, limit=limit + 1)
            if seen is None:
                await self._not_a_member(sdkappid, group_id)
            found = seen
        if not found and viewer is None:
            await self.info(sdkappid, group_id)
        more = len(found) > limit
        return {"members": found[:limit], "more": more}

    async def _not_a_member(self, sdkappid: int, group_id: str) -> NoReturn:
        await self.info(sdkappid, group_id)  # 10010 when there is no such group
        raise TidingsError(ErrorCode.NOT_A_MEMBER, "you are not a member of this group")

    async def app_groups(self, sdkappid: int, *, offset: int, limit: int,
                         type: GroupType | None = None) -> dict[str, Any]:
        """The app's group ids, a page at a time (by id), and their number."""
        ids, total = await self._store.app_groups(
            sdkappid, offset=offset, limit=limit, type=None if type is None else type.value)
        return {"group_ids": ids, "total": total}

    async def member(self, sdkappid: int, group_id: str, user: str) -> dict[str, Any] | None:
        """One member (None: not a member of this group)."""
        return await self._store.member(self.key(sdkappid, group_id), check_user_id(user))

    async def activity(self, sdkappid: int, group_id: str,
                       users: list[str]) -> dict[str, tuple[int, int]]:
        """Per member among ``users``: (its read seq, when it last sent, ms)."""
        return await self._store.activity(self.key(sdkappid, group_id), users)

    async def joined(self, sdkappid: int, user: str) -> dict[str, Any]:
        return {"groups": await self._store.joined(sdkappid, check_user_id(user))}
