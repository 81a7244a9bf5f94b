"""Friends and blocks over REST: the client API under ``/v1`` and the admin
API under ``/v1/admin`` (docs/friends.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Request
from pydantic import BaseModel, Field

from tidings.api.admin import Admin
from tidings.api.auth import client_ip, runtime_of
from tidings.api.client import Me
from tidings.api.models import ErrorOut
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.conversations import (
    ConversationDeleteIn,
    ConversationPatch,
    ReactionIn,
    TypingIn,
)
from tidings.domain.friends import (
    AdminFriendAddIn,
    C2CSettingsIn,
    FriendAnswerIn,
    FriendDeleteIn,
    FriendRemarkIn,
    FriendRequestIn,
    UserIdsIn,
)
from tidings.domain.ids import Identity, check_user_id

# -- response shapes ------------------------------------------------------------------


class FriendRequestOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "from": "alice", "to": "bob", "wording": "Hi Bob, we met at the camera fair",
        "source": "search", "time": 1795310000123}]}}

    from_: str = Field(alias="from")
    to: str
    wording: str
    source: str
    time: int


class FriendRequestResultOut(BaseModel):
    """``added``: friends now; ``pending``: waiting for an answer;
    ``friends``: they were already (nothing changed)."""

    model_config = {"json_schema_extra": {"examples": [{"result": "pending",
                                                        "user_id": "bob"}]}}

    result: Literal["added", "pending", "friends"]
    user_id: str


class FriendRequestsOut(BaseModel):
    incoming: list[FriendRequestOut]
    outgoing: list[FriendRequestOut]


class FriendOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "user_id": "bob", "remark": "Bob (cameras)", "source": "search",
        "wording": "Hi Bob", "since": 1795310000123, "updated_at": 1795310000123}]}}

    user_id: str
    remark: str
    source: str
    wording: str
    since: int
    updated_at: int


class FriendListOut(BaseModel):
    friends: list[FriendOut]


class FriendDeleteOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"deleted": ["bob"],
                                                        "not_friends": []}]}}

    deleted: list[str]
    not_friends: list[str]


class DeclinedOut(BaseModel):
    user_id: str
    declined: bool


class WithdrawnOut(BaseModel):
    user_id: str
    withdrawn: bool


class BlockedOut(BaseModel):
    user_id: str
    since: int


class BlocklistOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "blocked": [{"user_id": "mallory", "since": 1795310000123}]}]}}

    blocked: list[BlockedOut]


class BlockOut(BaseModel):
    added: list[str]
    already: list[str]


class UnblockOut(BaseModel):
    removed: list[str]
    not_blocked: list[str]


class C2CSettingsOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"needs_friendship": False,
                                                        "blocked_sender_sees": "sent",
                                                        "read_receipts": True}]}}

    needs_friendship: bool
    blocked_sender_sees: Literal["sent", "error"]
    read_receipts: bool


class AdminFriendAddOut(BaseModel):
    added: list[dict[str, str]]


def _errors(text: str, status: int = 404) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut, "description": text}}


# -- the client API -------------------------------------------------------------------

router = api_router(prefix="/v1", tags=["friends"])


@router.post("/friends/requests", response_model=FriendRequestResultOut, responses={
    **_errors("30003 no such account"),
    403: {"model": ErrorOut, "description": "30516 they take no requests; 20006 the app's "
                                            "callback refused"},
    409: {"model": ErrorOut, "description": "30515 you block them"}})
async def friend_request(request: Request, me: Me, body: FriendRequestIn) -> JSON:
    """Ask ``user_id`` to be friends, with a message (``wording``). Their
    ``allow_type`` decides: ``allow_any`` makes friends at once, ``deny_any``
    refuses (30516), ``need_confirm`` leaves a pending request that their
    devices get as a ``friend_request`` event (or on their next sync). A
    request to someone who asked the caller too makes friends at once."""
    return JSON(await runtime_of(request).friends.request(
        me, body, platform="REST", client_ip=client_ip(request)))


@router.get("/friends/requests", response_model=FriendRequestsOut)
async def friend_requests(request: Request, me: Me) -> JSON:
    """Pending requests to (``incoming``) and from (``outgoing``) the caller,
    newest first."""
    return JSON(await runtime_of(request).friends.requests(me))


@router.post("/friends/requests/{user_id}/accept", response_model=FriendOut,
             responses=_errors("30614 no pending request from that user"))
async def accept_friend(request: Request, me: Me, user_id: str,
                        body: Annotated[FriendAnswerIn | None, Body()] = None) -> JSON:
    """Accept ``user_id``'s request: both are friends now (``friend_added``
    events to both users' devices). Answers the new friend as listed."""
    remark = body.remark if body is not None else ""
    return JSON(await runtime_of(request).friends.accept(me, user_id, remark))


@router.post("/friends/requests/{user_id}/decline", response_model=DeclinedOut,
             responses=_errors("30614 no pending request from that user"))
async def decline_friend(request: Request, me: Me, user_id: str) -> JSON:
    """Decline ``user_id``'s request (a ``friend_request_removed`` event
    goes to both users' devices)."""
    return JSON(await runtime_of(request).friends.decline(me, user_id))


@router.post("/friends/requests/{user_id}/withdraw", response_model=WithdrawnOut,
             responses=_errors("30614 no pending request to that user"))
async def withdraw_friend_request(request: Request, me: Me, user_id: str) -> JSON:
    """Take back the caller's own pending request to ``user_id``."""
    return JSON(await runtime_of(request).friends.withdraw(me, user_id))


@router.get("/friends", response_model=FriendListOut)
async def list_friends(request: Request, me: Me) -> JSON:
    """The caller's friend list, by user id."""
    return JSON(await runtime_of(request).friends.friends(me.sdkappid, me.user_id))


@router.patch("/friends/{user_id}", response_model=FriendOut,
              responses=_errors("31704 not in the caller's friend list"))
async def set_friend_remark(request: Request, me: Me, user_id: str,
                            body: FriendRemarkIn) -> JSON:
    """Set what the caller calls a friend (``remark``, at most 96 bytes);
    the caller's other devices get a ``friend_updated`` event."""
    return JSON(await runtime_of(request).friends.set_remark(me, user_id, body.remark))


@router.post("/friends/delete", response_model=FriendDeleteOut)
async def delete_friends(request: Request, me: Me, body: FriendDeleteIn) -> JSON:
    """Remove friends: from the caller's list, and with ``both`` (the
    default) the caller from theirs too. Each removed side gets a
    ``friend_deleted`` event on its owner's devices."""
    return JSON(await runtime_of(request).friends.delete(me, body.user_ids, body.both))


@router.get("/blocks", response_model=BlocklistOut)
async def blocklist(request: Request, me: Me) -> JSON:
    """The users the caller blocks."""
    return JSON(await runtime_of(request).friends.blocklist(me.sdkappid, me.user_id))


@router.post("/blocks", response_model=BlockOut)
async def block(request: Request, me: Me, body: UserIdsIn) -> JSON:
    """Block users: their one-to-one messages to the caller are refused
    without telling them why (docs/friends.md, "Blocking"), their friend
    requests are hidden. The caller's other devices get a ``blocklist`` event."""
    return JSON(await runtime_of(request).friends.block(me, body.user_ids))


@router.post("/blocks/delete", response_model=UnblockOut)
async def unblock(request: Request, me: Me, body: UserIdsIn) -> JSON:
    """Unblock users."""
    return JSON(await runtime_of(request).friends.unblock(me, body.user_ids))


# -- the admin API --------------------------------------------------------------------

admin_router = api_router(prefix="/v1/admin", tags=["admin"],
                         responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


def _user(admin: Admin, user_id: str) -> Identity:
    return Identity(admin.sdkappid, check_user_id(user_id))


@admin_router.get("/settings/c2c", response_model=C2CSettingsOut)
async def get_c2c_settings(request: Request, admin: Admin) -> JSON:
    """The app's one-to-one rules: whether messages need a friendship both
    ways (20009 otherwise), and what a blocked sender sees."""
    return JSON(await runtime_of(request).friends.c2c_settings(admin.sdkappid))


@admin_router.put("/settings/c2c", response_model=C2CSettingsOut)
async def put_c2c_settings(request: Request, admin: Admin, body: C2CSettingsIn) -> JSON:
    """Change the app's one-to-one rules (a field left out keeps its value);
    they apply at once."""
    return JSON(await runtime_of(request).friends.put_c2c_settings(admin.sdkappid, body))


@admin_router.get("/users/{user_id}/friends", response_model=FriendListOut)
async def user_friends(request: Request, admin: Admin, user_id: str) -> JSON:
    """A user's friend list."""
    who = _user(admin, user_id)
    return JSON(await runtime_of(request).friends.friends(who.sdkappid, who.user_id))


@admin_router.post("/users/{user_id}/friends", response_model=AdminFriendAddOut,
                   responses=_errors("30003 no such account"))
async def user_add_friend(request: Request, admin: Admin, user_id: str,
                          body: AdminFriendAddIn) -> JSON:
    """Make ``user_id`` and ``friend_id`` friends at once: no request, no
    confirmation, no before-callback (both ways unless ``both`` is false).
    Both users' devices get ``friend_added`` events."""
    return JSON(await runtime_of(request).friends.admin_add(
        admin.sdkappid, user_id, body.friend_id, body.remark, body.both))


@admin_router.post("/users/{user_id}/friends/delete", response_model=FriendDeleteOut)
async def user_delete_friends(request: Request, admin: Admin, user_id: str,
                              body: FriendDeleteIn) -> JSON:
    """Remove friends of a user, as the user would."""
    return JSON(await runtime_of(request).friends.delete(_user(admin, user_id),
                                                         body.user_ids, body.both))


@admin_router.get("/users/{user_id}/blocks", response_model=BlocklistOut)
async def user_blocklist(request: Request, admin: Admin, user_id: str) -> JSON:
    """The users a user blocks."""
    who = _user(admin, user_id)
    return JSON(await runtime_of(request).friends.blocklist(who.sdkappid, who.user_id))


@admin_router.post("/users/{user_id}/blocks", response_model=BlockOut)
async def user_block(request: Request, admin: Admin, user_id: str, body: UserIdsIn) -> JSON:
    """Block users on a user's behalf."""
    return JSON(await runtime_of(request).friends.block(_user(admin, user_id), body.user_ids))


@admin_router.post("/users/{user_id}/blocks/delete", response_model=UnblockOut)
async def user_unblock(request: Request, admin: Admin, user_id: str, body: UserIdsIn) -> JSON:
    """Unblock users on a user's behalf."""
    return JSON(await runtime_of(request).friends.unblock(_user(admin, user_id),
                                                          body.user_ids))


# -- reactions (before the conversation routes: their paths would swallow these) --

class ReactionOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "conversation_id": "c2c_bob", "seq": 7, "emoji": "👍", "action": "add",
        "changed": True}]}}

    conversation_id: str
    seq: int
    emoji: str
    action: Literal["add", "remove"]
    changed: bool


_REACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "20022 no such message"},
    409: {"model": ErrorOut, "description": "20023 recalled"},
    403: {"model": ErrorOut, "description": "20009 the app requires friendship"}}


@router.post("/conversations/{conversation_id:path}/messages/{seq}/reactions",
             response_model=ReactionOut, responses=_REACTION_ERRORS)
async def add_reaction(request: Request, me: Me, conversation_id: str, seq: int,
                       body: ReactionIn) -> JSON:
    """React to message ``seq`` with an emoji (1-32 characters; at most 20
    per user and message). ``changed`` is false when the caller had it
    already. Both members' devices get a ``reaction`` event."""
    return JSON(await runtime_of(request).reactions.react(me, conversation_id, seq,
                                                          body.emoji, True))


@router.post("/conversations/{conversation_id:path}/messages/{seq}/reactions/delete",
             response_model=ReactionOut, responses=_REACTION_ERRORS)
async def remove_reaction(request: Request, me: Me, conversation_id: str, seq: int,
                          body: ReactionIn) -> JSON:
    """Take back one's reaction (``changed`` is false when there was none)."""
    return JSON(await runtime_of(request).reactions.react(me, conversation_id, seq,
                                                          body.emoji, False))


# -- conversation settings (client) ---------------------------------------------------


class ConversationSettingsOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "conversation_id": "c2c_bob", "pinned": True, "muted": False, "hidden": False,
        "cleared_seq": 0, "draft": "See you at", "draft_time": 1795310000123}]}}

    conversation_id: str
    pinned: bool
    muted: bool
    hidden: bool
    cleared_seq: int
    draft: str
    draft_time: int


_NO_CONVERSATION = _errors("10010 nothing was said in this conversation yet")


@router.patch("/conversations/{conversation_id:path}/settings",
              response_model=ConversationSettingsOut, responses=_NO_CONVERSATION)
async def set_conversation(request: Request, me: Me, conversation_id: str,
                           body: ConversationPatch) -> JSON:
    """Pin, mute (``muted``: receive but do not notify; a flag for clients
    and push) or set the draft (``""`` clears it). Pinning or a draft shows
    a hidden conversation again. The caller's devices get a
    ``conversation_settings`` event."""
    return JSON(await runtime_of(request).conversation_settings.update(me, conversation_id,
                                                                       body))


@router.post("/conversations/{conversation_id:path}/hide",
             response_model=ConversationSettingsOut, responses=_NO_CONVERSATION)
async def hide_conversation(request: Request, me: Me, conversation_id: str) -> JSON:
    """Leave the conversation out of the caller's list (and unpin it) until
    a new message comes."""
    return JSON(await runtime_of(request).conversation_settings.hide(me, conversation_id))


@router.post("/conversations/{conversation_id:path}/delete",
             response_model=ConversationSettingsOut, responses=_NO_CONVERSATION)
async def delete_conversation(request: Request, me: Me, conversation_id: str,
                              body: Annotated[ConversationDeleteIn | None, Body()] = None
                              ) -> JSON:
    """Hide it, mark it read and drop the draft; with ``clear_history``
    the messages so far are gone for the caller (history, sync, the list),
    not for the peer."""
    clear = body.clear_history if body is not None else False
    return JSON(await runtime_of(request).conversation_settings.delete(me, conversation_id,
                                                                       clear))


class TypingOut(BaseModel):
    conversation_id: str
    throttled: bool


@router.post("/conversations/{conversation_id:path}/typing", response_model=TypingOut)
async def typing(request: Request, me: Me, conversation_id: str,
                 body: Annotated[TypingIn | None, Body()] = None) -> JSON:
    """Tell the peer's live devices that the caller is typing (``typing``:
    true, the default) or stopped. Never stored; at most one per second and
    conversation is forwarded (``throttled``: this one was not)."""
    state = body.typing if body is not None else True
    return JSON(await runtime_of(request).typing.typing(me, conversation_id, state))

