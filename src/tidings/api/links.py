"""Links between home accounts and app identities over REST
(docs/linked-identity.md): the person's side under
``/v1/links`` (with a home UserSig), the app's side under ``/v1/admin/links``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Request
from pydantic import BaseModel

from tidings.api.admin import Admin
from tidings.api.auth import runtime_of
from tidings.api.client import Me
from tidings.api.models import AckOut, ErrorOut, ReadOut
from tidings.api.openapi_doc import SEND_ERRORS, errors
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.link_profiles import LinkSettingsIn
from tidings.domain.links import LinkTicketIn
from tidings.domain.requests import ReadRequest, SendRequest, SyncRequest
from tidings.protocol.views import ack_view
from tidings.services.links import qualify_view

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "96052 forged ticket; 96058 not a home account"},
    404: {"model": ErrorOut, "description": "96056 no such link; 96057 no such target"},
    409: {"model": ErrorOut, "description": "96054 ticket used; 96055 linked elsewhere"},
    410: {"model": ErrorOut, "description": "96051 ticket expired"},
}
router = api_router(prefix="/v1/links", tags=["links"], responses=_ERRORS)
admin_router = api_router(prefix="/v1/admin/links", tags=["admin"],
                         responses={403: {"model": ErrorOut}})


class AppCardOut(BaseModel):
    sdkappid: int
    name: str
    icon_url: str


class UserCardOut(BaseModel):
    user_id: str
    nickname: str
    avatar_url: str


class LinkPreviewOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "app": {"sdkappid": 1400000001, "name": "ShopX", "icon_url": ""},
        "user": {"user_id": "bob", "nickname": "Bob", "avatar_url": ""},
        "target": {"user_id": "carol", "nickname": "Carol", "avatar_url": ""},
        "action": "chat", "linked": False, "replaces": None, "expires_at": 1795310600}]}}

    app: AppCardOut
    user: UserCardOut
    target: UserCardOut | None
    action: str | None
    linked: bool
    replaces: str | None
    expires_at: int


class LinkOut(BaseModel):
    app: AppCardOut
    user: UserCardOut
    since: int


class LinkMadeOut(BaseModel):
    link: dict[str, Any]
    action: dict[str, Any] | None


class LinkListOut(BaseModel):
    links: list[LinkOut]


class UnlinkOut(BaseModel):
    sdkappid: int
    user_id: str
    unlinked: bool


@router.post("/preview", response_model=LinkPreviewOut)
async def preview(request: Request, me: Me, body: LinkTicketIn) -> JSON:
    """What confirming this link would do, changing nothing: the app (name,
    icon), the app user the ticket names (nickname, avatar, as the app set
    them), the target and action. Every check of a confirm runs here too."""
    return JSON(await runtime_of(request).links.preview(me, body))


@router.post("", response_model=LinkMadeOut)
async def confirm(request: Request, me: Me, body: LinkTicketIn) -> JSON:
    """Use the ticket (once) and link its app user to the caller's home
    account, then run the action: ``chat`` answers the qualified
    conversation id to open, ``friend`` sends the friend request as the
    linked identity. A home account holds one identity per app: linking
    another one of the same app replaces it (``replaced``)."""
    return JSON(await runtime_of(request).links.confirm(me, body))


@router.get("", response_model=LinkListOut)
async def list_links(request: Request, me: Me,
                     sdkappid: Annotated[int | None, Query(ge=1)] = None) -> JSON:
    """The caller's links, oldest first (or the one in app ``sdkappid``)."""
    return JSON(await runtime_of(request).links.links(me, sdkappid))


@router.get("/conversations")
async def linked_conversations(
        request: Request, me: Me, sdkappid: Annotated[int | None, Query(ge=1)] = None,
        limit: Annotated[int | None, Query(ge=0)] = None,
        conversation_ids: Annotated[list[str] | None, Query(
            min_length=1, max_length=100,
            examples=[["app:1400000001:c2c_bob", "app:1400000001:group_team"]])] = None,
) -> JSON:
    """The conversations of the caller's linked identities, grouped by app
    (``apps``: app card, ``as`` card, conversations with qualified ids and
    the peer's card); ``sdkappid`` keeps one app. With ``conversation_ids``
    (qualified, repeatable, 1 to 100; not comma-separated): just those
    conversations, hidden ones included, those of no link of the caller's
    left out, ``limit`` not applied; 10009 for a bad conversation id."""
    return JSON(await runtime_of(request).linked_messaging.conversations(
        me, sdkappid, limit, conversation_ids))


@router.delete("/{sdkappid}", response_model=UnlinkOut)
async def unlink(request: Request, me: Me, sdkappid: int) -> JSON:
    """Remove the caller's link in app ``sdkappid``: nothing more of that
    identity reaches the caller's devices, nor can they act as it."""
    return JSON(await runtime_of(request).links.unlink(me, sdkappid))


@router.post("/messages", response_model=AckOut, responses=errors(*SEND_ERRORS))
async def send_as_linked(request: Request, me: Me, body: SendRequest) -> JSON:
    """Send as a linked identity: ``conversation_id`` is qualified
    (``app:<sdkappid>:c2c_bob``). The message is the app's, stored in its
    conversation and seen by its callbacks and admin API like any other."""
    rt = runtime_of(request)
    committed = await rt.linked_messaging.send(me, body.conversation_id, body.client_msg_id,
                                               body.elements_json(), body.cloud_custom_data,
                                               body.mentions)
    return JSON(qualify_view(committed.message.key.sdkappid, ack_view(committed)))


@router.get("/conversations/{conversation_id:path}/messages")
async def linked_history(request: Request, me: Me, conversation_id: str,
                         before_seq: Annotated[int | None, Query(ge=1)] = None,
                         limit: Annotated[int | None, Query(ge=0)] = None) -> JSON:
    """A page of a linked conversation (qualified id), each message with the
    ``app`` card and the ``sender_card``."""
    found, more = await runtime_of(request).linked_messaging.history(
        me, conversation_id, before_seq=before_seq, limit=limit)
    return JSON({"messages": found, "more": more})


@router.post("/conversations/{conversation_id:path}/read", response_model=ReadOut)
async def linked_read(request: Request, me: Me, conversation_id: str,
                      body: Annotated[ReadRequest | None, Body()] = None) -> JSON:
    """Move the linked identity's read cursor (as its own client would)."""
    return JSON(await runtime_of(request).linked_messaging.mark_read(
        me, conversation_id, body.seq if body is not None else None))


@router.post("/{sdkappid}/sync")
async def linked_sync(request: Request, me: Me, sdkappid: int, body: SyncRequest) -> JSON:
    """Catch-up for the identity linked in app ``sdkappid``, as the ``sync``
    op is for one's own (``known``: qualified conversation id -> last seq)."""
    result = await runtime_of(request).linked_messaging.sync(me, sdkappid, body.known,
                                                             body.limit)
    return JSON({"messages": result.messages, "conversations": result.conversations,
                 "more": result.more})


class AdminLinkStateOut(BaseModel):
    user_id: str
    linked: bool
    since: int | None


class AdminUnlinkOut(BaseModel):
    user_id: str
    unlinked: bool


@admin_router.get("/{user_id}", response_model=AdminLinkStateOut)
async def admin_link_state(request: Request, admin: Admin, user_id: str) -> JSON:
    """Whether one of the app's users is linked to a Tidings account, and
    since when (nothing about that account)."""
    return JSON(await runtime_of(request).links.admin_link_state(admin.sdkappid, user_id))


@admin_router.delete("/{user_id}", response_model=AdminUnlinkOut)
async def admin_unlink(request: Request, admin: Admin, user_id: str) -> JSON:
    """Remove the link of one of the app's users; ``unlinked`` is false when
    there was none. Nothing more reaches the home account through it."""
    return JSON(await runtime_of(request).links.admin_unlink(admin.sdkappid, user_id))


settings_router = api_router(prefix="/v1/admin/link-settings", tags=["admin"],
                            responses={403: {"model": ErrorOut}})


class LinkSettingsOut(BaseModel):
    profile_callback: bool
    profile_ttl: int


@settings_router.get("", response_model=LinkSettingsOut)
async def get_link_settings(request: Request, admin: Admin) -> JSON:
    """Whether the cards of the app's users come from its profile callback
    (off by default: from the stored profiles), and the answers' lifetime."""
    return JSON(await runtime_of(request).links.link_settings(admin.sdkappid))


@settings_router.put("", response_model=LinkSettingsOut)
async def put_link_settings(request: Request, admin: Admin, body: LinkSettingsIn) -> JSON:
    """Turn the profile callback on or off (the ``profile_lookup`` event goes
    to the app's callback URL: docs/linked-identity.md); cached answers are
    dropped."""
    return JSON(await runtime_of(request).links.put_link_settings(admin.sdkappid, body))
