"""Join applications over REST (docs/groups.md, "Join applications"): the
client API under ``/v1`` (as the caller) and the admin API under
``/v1/admin/groups`` (as the app's admin, who may answer any application).
The socket ops (gateway/group_join_ops.py) are their twins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request
from pydantic import BaseModel

from tidings.api.admin import Admin
from tidings.api.auth import client_ip, runtime_of
from tidings.api.client import Me
from tidings.api.models import ErrorOut
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.group_joins import ApplyBody


class JoinRequestOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "group_id": "fans", "user_id": "dave", "message": "Hi, I run the Lyon fan club",
        "state": "pending", "created_at": 1795310000123, "handled_by": None,
        "handled_at": 0}]}}

    group_id: str
    user_id: str
    message: str
    state: str
    created_at: int
    handled_by: str | None
    handled_at: int


class JoinRequestsOut(BaseModel):
    requests: list[JoinRequestOut]


class ApplicationsOut(BaseModel):
    applications: list[JoinRequestOut]


class ApplyOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "group_id": "fans", "user_id": "dave", "state": "pending"}]}}

    group_id: str
    user_id: str
    # "pending", or "joined" for a FreeAccess group
    state: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "10007 the group takes no applications, or your "
                                            "role may not answer them; 10011 not a member; "
                                            "20006 the app's callback refused"},
    404: {"model": ErrorOut, "description": "10010 no such group; 94051 no such application"},
    409: {"model": ErrorOut, "description": "10061 already a member; 10014 full; 94050 your "
                                            "application is pending; 94052 answered already"},
}

router = api_router(prefix="/v1", tags=["groups"], responses=_ERRORS)


@router.post("/groups/{group_id}/apply", response_model=ApplyOut)
async def apply(request: Request, me: Me, group_id: str,
                body: Annotated[ApplyBody | None, Body()] = None) -> JSON:
    """Apply to join a ``NeedPermission`` group with a ``message`` (up to
    300 bytes): the owner and admins get a ``group_join_request`` event (or
    find it on their next sync). A ``FreeAccess`` group takes the caller at
    once (``state: "joined"``)."""
    return JSON(await runtime_of(request).group_joins.apply(
        me, group_id, body.message if body is not None else "", platform="REST",
        client_ip=client_ip(request)))


@router.get("/groups/{group_id}/join-requests", response_model=JoinRequestsOut)
async def group_requests(request: Request, me: Me, group_id: str) -> JSON:
    """The pending applications to a group the caller owns or administers,
    newest first."""
    return JSON(await runtime_of(request).group_joins.pending(me.sdkappid, me.user_id,
                                                              group_id))


@router.post("/groups/{group_id}/join-requests/{user_id}/approve")
async def approve(request: Request, me: Me, group_id: str, user_id: str) -> JSON:
    """Approve ``user_id``'s application (owner or admin): they join as a
    self-join does (the ``joined`` entry, 10014 when the group is full). The
    first answer wins: a second gets 94052."""
    return JSON(await runtime_of(request).group_joins.answer(
        me.sdkappid, me.user_id, group_id, user_id, True))


@router.post("/groups/{group_id}/join-requests/{user_id}/decline")
async def decline(request: Request, me: Me, group_id: str, user_id: str) -> JSON:
    """Decline ``user_id``'s application (owner or admin); they get a
    ``group_join_request_handled`` event (or see it in their applications)."""
    return JSON(await runtime_of(request).group_joins.answer(
        me.sdkappid, me.user_id, group_id, user_id, False))


@router.get("/group-join-requests", response_model=JoinRequestsOut)
async def all_requests(request: Request, me: Me) -> JSON:
    """The pending applications to every group the caller owns or
    administers, newest first (at most 500)."""
    return JSON(await runtime_of(request).group_joins.pending(me.sdkappid, me.user_id, None))


@router.get("/group-applications", response_model=ApplicationsOut)
async def applications(request: Request, me: Me) -> JSON:
    """The caller's own applications: pending, and answered in the last 7 days."""
    return JSON(await runtime_of(request).group_joins.mine(me))


admin_router = api_router(prefix="/v1/admin/groups", tags=["admin"], responses=_ERRORS)


@admin_router.get("/{group_id}/join-requests", response_model=JoinRequestsOut)
async def admin_requests(request: Request, admin: Admin, group_id: str) -> JSON:
    """The pending applications to a group, newest first (at most 500)."""
    return JSON(await runtime_of(request).group_joins.pending(admin.sdkappid, None, group_id))


@admin_router.post("/{group_id}/join-requests/{user_id}/approve")
async def admin_approve(request: Request, admin: Admin, group_id: str, user_id: str) -> JSON:
    """Approve an application as the app's admin (``handled_by: null``)."""
    return JSON(await runtime_of(request).group_joins.answer(
        admin.sdkappid, None, group_id, user_id, True))


@admin_router.post("/{group_id}/join-requests/{user_id}/decline")
async def admin_decline(request: Request, admin: Admin, group_id: str, user_id: str) -> JSON:
    """Decline an application as the app's admin."""
    return JSON(await runtime_of(request).group_joins.answer(
        admin.sdkappid, None, group_id, user_id, False))
