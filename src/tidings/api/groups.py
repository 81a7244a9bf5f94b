"""Groups over REST: the client API under ``/v1/groups`` (as the caller) and
the admin API under ``/v1/admin/groups`` (as the app's admin, who may do
everything). Both are the same routes over the groups service; the socket
ops (gateway/group_ops.py) are their twins."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from tidings.api.admin import Admin
from tidings.api.auth import current_identity, runtime_of
from tidings.api.models import ErrorOut
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.group_requests import (
    AdminGroupCreateRequest,
    GroupCreateRequest,
    GroupSettingsBody,
    MuteAllBody,
    MuteBody,
    NameCardBody,
    NotificationBody,
    ProfileBody,
    RoleBody,
    TransferBody,
    UsersBody,
    join_option,
)
from tidings.domain.ids import Identity
from tidings.services.groups import GroupService

# (sdkappid, actor): the caller's user id, or None for the app's admin.
Caller = tuple[int, str | None]


def _as_user(me: Annotated[Identity, Depends(current_identity)]) -> Caller:
    return me.sdkappid, me.user_id


def _as_admin(admin: Admin) -> Caller:
    return admin.sdkappid, None


_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "10007 not allowed for your role; 10011 not a "
                                            "member; 10017 muted"},
    404: {"model": ErrorOut, "description": "10010 no such group"},
    409: {"model": ErrorOut, "description": "10021 group id taken; 10014 full; "
                                            "10060 the owner cannot leave; 10061 already a member"},
}


def _seqs(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           "seqs: message seqs separated by commas") from None


def _routes(prefix: str, caller: Callable[..., Caller], tags: list[str | Enum],
            admin: bool) -> APIRouter:
    router = api_router(prefix=prefix, tags=tags, responses=_ERRORS)

    def groups(request: Request) -> Any:
        return runtime_of(request).groups

    async def answer(work: Awaitable[dict[str, Any]]) -> JSON:
        return JSON(await work)

    if admin:
        @router.post("")
        async def create_as_admin(request: Request,
            body: AdminGroupCreateRequest,
            who: Caller = Depends(caller)) -> JSON:
            """Create a group with the given ``owner`` (none: an ownerless group
            that the app's admin manages). ``group_id`` absent: the server
            chooses one (``@TGS#...``)."""
            app, _ = who
            return await answer(groups(request).create(
                app, None, type=body.group_type(), group_id=body.group_id, owner=body.owner,
                members=body.members, profile=body.profile(),
                join_option=join_option(body.join_option)))
    else:
        @router.post("")
        async def create(request: Request, body: GroupCreateRequest,
            who: Caller = Depends(caller)) -> JSON:
            """Create a group that the caller owns, with ``members`` (up to
            500; invite more later). ``group_id`` absent: the server chooses
            one (``@TGS#...``). Every member gets a ``system`` event ``created``."""
            app, me = who
            return await answer(groups(request).create(
                app, me, type=body.group_type(), group_id=body.group_id, owner=None,
                members=body.members, profile=body.profile(),
                join_option=join_option(body.join_option)))

        @router.get("")
        async def joined(request: Request,
            who: Caller = Depends(caller)) -> JSON:
            """The groups the caller is a member of, with the caller's role."""
            app, me = who
            assert me is not None
            return await answer(groups(request).joined(app, me))

        @router.post("/{group_id}/join")
        async def join(request: Request, group_id: str,
            who: Caller = Depends(caller)) -> JSON:
            """Join a group whose join option is ``FreeAccess`` (Meeting and
            Community groups by default)."""
            app, me = who
            assert me is not None
            return await answer(groups(request).join(app, me, group_id))

        @router.post("/{group_id}/leave")
        async def leave(request: Request, group_id: str,
            who: Caller = Depends(caller)) -> JSON:
            """Leave a group (the owner transfers it or disbands it instead: 10060)."""
            app, me = who
            assert me is not None
            return await answer(groups(request).leave(app, me, group_id))

    @router.get("/{group_id}")
    async def info(request: Request, group_id: str,
            who: Caller = Depends(caller)) -> JSON:
        """The group's profile and settings, and how many members it has."""
        return await answer(groups(request).info(who[0], group_id))

    @router.get("/{group_id}/members")
    async def members(request: Request, group_id: str,
                      after: Annotated[str, Query(max_length=64)] = "",
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100,
            who: Caller = Depends(caller)) -> JSON:
        """A page of members by user id (after ``after``), with role, join
        time, mute and name card; ``more`` when others follow."""
        app, me = who
        return await answer(groups(request).members(app, me, group_id, after=after,
                                                    limit=limit))

    @router.post("/{group_id}/invite")
    async def invite(request: Request, group_id: str, body: UsersBody,
            who: Caller = Depends(caller)) -> JSON:
        """Add 1 to 500 members (who may invite depends on the group's type)."""
        app, me = who
        return await answer(groups(request).invite(app, me, group_id, body.user_ids))

    @router.post("/{group_id}/kick")
    async def kick(request: Request, group_id: str, body: UsersBody,
            who: Caller = Depends(caller)) -> JSON:
        """Remove 1 to 500 members; they get the ``kicked`` entry, then lose the group."""
        app, me = who
        return await answer(groups(request).kick(app, me, group_id, body.user_ids))

    @router.post("/{group_id}/role")
    async def set_role(request: Request, group_id: str, body: RoleBody,
            who: Caller = Depends(caller)) -> JSON:
        """Promote a member to ``Admin`` or demote an admin to ``Member`` (the owner only)."""
        app, me = who
        return await answer(groups(request).set_role(app, me, group_id, body.user_id,
                                                     body.role))

    @router.post("/{group_id}/transfer")
    async def transfer(request: Request, group_id: str, body: TransferBody,
            who: Caller = Depends(caller)) -> JSON:
        """Make another member the owner; the old owner becomes a member."""
        app, me = who
        return await answer(groups(request).transfer(app, me, group_id, body.new_owner))

    @router.post("/{group_id}/mute")
    async def mute(request: Request, group_id: str, body: MuteBody,
            who: Caller = Depends(caller)) -> JSON:
        """Mute a member for ``seconds`` (0 unmutes)."""
        app, me = who
        return await answer(groups(request).mute(app, me, group_id, body.user_id,
                                                 body.seconds))

    @router.post("/{group_id}/mute_all")
    async def mute_all(request: Request, group_id: str, body: MuteAllBody,
            who: Caller = Depends(caller)) -> JSON:
        """Mute or unmute the whole group (its owner and admins still speak)."""
        app, me = who
        return await answer(groups(request).mute_all(app, me, group_id, body.mute_all))

    @router.patch("/{group_id}")
    async def update(request: Request, group_id: str, body: ProfileBody,
            who: Caller = Depends(caller)) -> JSON:
        """Change the name, face URL, introduction, notice, custom attributes
        or join option; the members get a ``profile_changed`` entry."""
        app, me = who
        return await answer(groups(request).update(app, me, group_id, body.profile(),
                                                   join_option(body.join_option)))

    @router.post("/{group_id}/name_card")
    async def name_card(request: Request, group_id: str, body: NameCardBody,
            who: Caller = Depends(caller)) -> JSON:
        """Set a member's name card (one's own without ``user_id``)."""
        app, me = who
        user = body.user_id or me
        if user is None:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "user_id: whose name card")
        return await answer(groups(request).set_name_card(app, me, group_id, user,
                                                          body.name_card))

    @router.get("/{group_id}/receipts")
    async def receipts(request: Request, group_id: str,
                       seqs: Annotated[str, Query(max_length=2100, examples=["41,42,43"])],
            who: Caller = Depends(caller)) -> JSON:
        """Read receipts of up to 100 messages (``seqs``, comma-separated):
        ``read_count`` and ``unread_count`` each. Seqs that are no message the
        caller can see are left out. 94100 when the group is over the app's
        size limit for receipts."""
        app, me = who
        return await answer(runtime_of(request).group_receipts.receipts(
            GroupService.key(app, group_id), me, _seqs(seqs)))

    @router.get("/{group_id}/messages/{seq}/readers")
    async def readers(request: Request, group_id: str, seq: int,
                      read: bool = True,
                      after: Annotated[str, Query(max_length=64)] = "",
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100,
            who: Caller = Depends(caller)) -> JSON:
        """Who has read the message (``read=false``: who has not yet), a page
        by user id after ``after``. For the message's sender, the group's
        owner and admins (10007 for others), and the app's admin."""
        app, me = who
        return await answer(runtime_of(request).group_receipts.readers(
            GroupService.key(app, group_id), me, seq, read=read, after=after, limit=limit))

    @router.delete("/{group_id}")
    async def disband(request: Request, group_id: str,
            who: Caller = Depends(caller)) -> JSON:
        """Disband the group: the connected members get the ``disbanded``
        entry; the group, its members and its messages are deleted."""
        app, me = who
        return await answer(groups(request).disband(app, me, group_id))

    return router


router = _routes("/v1/groups", _as_user, ["groups"], admin=False)
admin_router = _routes("/v1/admin/groups", _as_admin, ["admin"], admin=True)


def _user_groups() -> APIRouter:
    extra = api_router(prefix="/v1/admin", tags=["admin"])

    @extra.get("/users/{user_id}/groups")
    async def user_groups(request: Request, admin: Admin, user_id: str) -> JSON:
        """The groups a user is a member of, with their role."""
        return JSON(await runtime_of(request).groups.joined(admin.sdkappid, user_id))

    async def settings_of(request: Request, sdkappid: int) -> JSON:
        runtime = runtime_of(request)
        return JSON({"default_members": await runtime.groups.default_members(sdkappid),
                     "read_receipts_max_members":
                         await runtime.group_receipts.max_members(sdkappid)})

    @extra.get("/group-settings")
    async def group_settings(request: Request, admin: Admin) -> JSON:
        """The app's group settings: ``default_members``, the accounts added
        to every new group of the app; ``read_receipts_max_members``, the
        largest group that keeps read receipts (0: off)."""
        return await settings_of(request, admin.sdkappid)

    @extra.post("/groups/{group_id}/notifications")
    async def group_notification(request: Request, admin: Admin, group_id: str,
                                 body: NotificationBody) -> JSON:
        """A system notification to the group's members (all, or those of
        ``to``): the ``group_system_notification`` event to their open
        connections, stored nowhere. Answers how many members it was for."""
        return JSON(await runtime_of(request).group_notices.notify(
            admin.sdkappid, group_id, body.content, body.to))

    @extra.put("/group-settings")
    async def set_group_settings(request: Request, admin: Admin,
                                 body: GroupSettingsBody) -> JSON:
        """Change the app's group settings; a field left out stays as it is.
        ``default_members``: up to 20 user ids (``[]`` for none), for new
        groups only. ``read_receipts_max_members``: 0 turns receipts off,
        ``null`` goes back to the server's default."""
        runtime = runtime_of(request)
        fields = body.model_fields_set
        if "default_members" in fields:
            await runtime.groups.set_default_members(admin.sdkappid,
                                                     body.default_members or [])
        if "read_receipts_max_members" in fields:
            await runtime.group_receipts.set_max_members(admin.sdkappid,
                                                         body.read_receipts_max_members)
        return await settings_of(request, admin.sdkappid)

    return extra


admin_user_router = _user_groups()
