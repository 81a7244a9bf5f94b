"""The client REST API under ``/v1``: what a client can do without a socket."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Depends, Query, Request

from tidings.api.auth import client_ip, current_identity, runtime_of
from tidings.api.models import (
    AckOut,
    ChangeAckOut,
    ConversationListOut,
    ErrorOut,
    HistoryOut,
    ProfileOut,
    ProfilesOut,
    ReadOut,
)
from tidings.api.openapi_doc import SEND_ERRORS, errors
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.elements import EntryKind
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity
from tidings.domain.profiles import ProfilePatch
from tidings.domain.requests import EditRequest, ReadRequest, SendRequest, UserIdsRequest
from tidings.protocol.views import ack_view
from tidings.services.messaging import SendContext

router = api_router(prefix="/v1", tags=["client"])
Me = Annotated[Identity, Depends(current_identity)]


@router.get("/conversations", response_model=ConversationListOut)
async def list_conversations(
        request: Request, me: Me, limit: Annotated[int | None, Query(ge=0)] = None,
        conversation_ids: Annotated[list[str] | None, Query(
            min_length=1, max_length=100, examples=[["c2c_bob", "group_team"]])] = None,
) -> JSON:
    """The caller's conversations, pinned first, then the most recently
    active, with the last message and the unread count of each; hidden ones
    left out. With ``conversation_ids`` (repeatable, 1 to 100; not
    comma-separated: a user id may hold a comma): just those conversations,
    hidden ones included, those the caller is not in left out, ``limit`` not
    applied; 10009 for a bad conversation id."""
    found = await runtime_of(request).messaging.conversations(me, limit, conversation_ids)
    return JSON({"conversations": found})


@router.get("/conversations/{conversation_id:path}/messages", response_model=HistoryOut)
async def history(request: Request, me: Me, conversation_id: str,
                  before_seq: Annotated[int | None, Query(ge=1)] = None,
                  around_seq: Annotated[int | None, Query(ge=1)] = None,
                  limit: Annotated[int | None, Query(ge=0)] = None) -> JSON:
    """A page of messages older than ``before_seq`` (the newest page without
    it), oldest first. ``more`` tells whether older messages remain. With
    ``around_seq`` instead: the page around that message, and ``newer``:
    whether newer messages remain."""
    if around_seq is not None:
        if before_seq is not None:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "before_seq and around_seq: one or the other")
        around, older, newer = await runtime_of(request).messaging.history_around(
            me, conversation_id, seq=around_seq, limit=limit)
        return JSON({"messages": around, "more": older, "newer": newer})
    found, more = await runtime_of(request).messaging.history(
        me, conversation_id, before_seq=before_seq, limit=limit)
    return JSON({"messages": found, "more": more})


@router.post("/messages", response_model=AckOut, responses=errors(*SEND_ERRORS))
async def send_message(request: Request, me: Me, body: SendRequest) -> JSON:
    """Send a message as the caller. Answers once the message is durably
    stored; repeating the call with the same ``client_msg_id`` answers the
    same ack (``duplicate: true``) and stores nothing new."""
    rt = runtime_of(request)
    elements = await rt.media.prepare_for(me.sdkappid, me.user_id, body.elements_json())
    assert elements is not None
    committed = await rt.messaging.send(
        me, body.conversation_id, body.client_msg_id, elements,
        body.cloud_custom_data, SendContext("REST", client_ip(request)), body.mentions,
        body.offline_push)
    return JSON(ack_view(committed))


@router.post("/conversations/{conversation_id:path}/read", response_model=ReadOut)
async def mark_read(request: Request, me: Me, conversation_id: str,
                    body: Annotated[ReadRequest | None, Body()] = None) -> JSON:
    """Move the caller's read cursor to ``seq`` (to the newest message when
    absent). The cursor never moves back; other devices get a ``read`` event."""
    seq = body.seq if body is not None else None
    return JSON(await runtime_of(request).messaging.mark_read(
        me, conversation_id, seq, platform="REST", client_ip=client_ip(request)))


@router.get("/profile", response_model=ProfileOut)
async def own_profile(request: Request, me: Me) -> JSON:
    """The caller's own profile."""
    return JSON(await runtime_of(request).profiles.get_one(me.sdkappid, me.user_id))


@router.patch("/profile", response_model=ProfileOut, responses=errors(403))
async def set_own_profile(request: Request, me: Me, body: ProfilePatch) -> JSON:
    """Change the caller's personal fields: gender, birthday, location,
    signature, language, allow_type. The nickname, avatar, level, role and
    custom fields are the app's to set (40008). Other devices of the caller
    get a ``profile`` event."""
    return JSON(await runtime_of(request).profiles.set_own(me, body))


@router.post("/profiles/get", response_model=ProfilesOut)
async def get_profiles(request: Request, me: Me, body: UserIdsRequest) -> JSON:
    """The profiles of 1 to 100 users of the caller's app, in the order
    asked; unknown accounts are listed in ``missing``."""
    return JSON(await runtime_of(request).profiles.get(me.sdkappid, body.user_ids))


_CHANGE_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorOut, "description": "10013 not the sender; 20016 too late"},
    404: {"model": ErrorOut, "description": "20022 no such message"},
    409: {"model": ErrorOut, "description": "20023 already recalled (edit only)"},
}


@router.post("/conversations/{conversation_id:path}/messages/{seq}/recall",
             response_model=ChangeAckOut, responses=_CHANGE_ERRORS)
async def recall_message(request: Request, me: Me, conversation_id: str, seq: int) -> JSON:
    """Recall one's own message within ``TIDINGS_RECALL_WINDOW`` (120 s) of its
    time: its content is erased, it stays at its seq as ``recalled``, and a
    ``change`` entry (the answer) goes to every device of both users.
    Recalling it again answers the first recall with ``duplicate: true``."""
    committed = await runtime_of(request).messaging.change(me, conversation_id, seq,
                                                           EntryKind.RECALL)
    return JSON(ack_view(committed))


@router.post("/conversations/{conversation_id:path}/messages/{seq}/edit",
             response_model=ChangeAckOut, responses=_CHANGE_ERRORS)
async def edit_message(request: Request, me: Me, conversation_id: str, seq: int,
                       body: EditRequest) -> JSON:
    """Replace the elements and/or the custom data of one's own message
    (within ``TIDINGS_EDIT_WINDOW``, no limit by default); it becomes
    ``edited``, and a ``change`` entry goes to every device of both users."""
    rt = runtime_of(request)
    elements = await rt.media.prepare_for(me.sdkappid, me.user_id, body.elements_json())
    committed = await rt.messaging.change(
        me, conversation_id, seq, EntryKind.EDIT, elements, body.cloud_custom_data)
    return JSON(ack_view(committed))
