"""The native admin API under ``/v1/admin``: an app's server manages its own
accounts. The app is always the one the credential names."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Header, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from tidings.api.auth import client_ip, runtime_of
from tidings.api.models import (
    AccountListOut,
    AckOut,
    BatchOut,
    BroadcastListOut,
    BroadcastOut,
    BroadcastStartOut,
    CallbacksOut,
    CallbackTestOut,
    ChangeAckOut,
    CheckOut,
    ConversationListOut,
    DeletedOut,
    DeleteOut,
    DeliveriesOut,
    ErrorOut,
    HistoryOut,
    ImportOut,
    KickOut,
    MuteOut,
    OnlineOut,
    ProfileOut,
    ProfilesOut,
    ReadOut,
    RetentionOut,
    StateOut,
    StatsOut,
    UnreadOut,
)
from tidings.api.openapi_doc import SEND_ERRORS, errors
from tidings.api.operator import operator_header
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.accounts import AccountImport
from tidings.domain.callbacks import STATUSES, apply_changes
from tidings.domain.elements import EntryKind
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.profiles import ProfilePatch
from tidings.domain.requests import (
    AccountMuteRequest,
    AdminBatchSendRequest,
    AdminBroadcastRequest,
    AdminImportRequest,
    AdminSendRequest,
    CallbacksRequest,
    EditRequest,
    ImportAccountsRequest,
    ReadRequest,
    RetentionRequest,
    UserIdsRequest,
)
from tidings.protocol.views import ack_view
from tidings.runtime import Runtime
from tidings.services.auth import AdminCaller
from tidings.services.messaging import SendContext

admin_bearer = HTTPBearer(auto_error=False, scheme_name="AdminUserSig",
                          description="A UserSig of one of the app's admin accounts")
api_key_header = APIKeyHeader(name="Authorization", auto_error=False, scheme_name="ApiKey",
                              description="`ApiKey tdk_<sdkappid>_...`, an app API key "
                                          "made with `tidings app api-key create`")


# Where the edge's body limit (api/limits.py) leaves the admin it checked
# before the body was read.
ADMIN_KEY = "tidings.admin"


# The app an operator acts on (``Authorization: Operator <token>``); any
# other credential names its own app, and this header, when sent, must agree.
APP_HEADER = "tidings-app"


async def admin_from_header(runtime: Runtime, authorization: str,
                            app: str = "") -> AdminCaller:
    """The admin of an ``Authorization: Bearer <admin UserSig>``,
    ``ApiKey <key>`` or ``Operator <token>`` header value; ``app`` is the
    ``Tidings-App`` header's."""
    auth = runtime.auth
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    scheme = scheme.lower()
    if scheme == "operator" and token:
        return await _operator_admin(runtime, token, app)
    if scheme == "bearer" and token:
        caller = await auth.admin_by_usersig(token)
    elif scheme == "apikey" and token:
        caller = await auth.admin_by_api_key(token)
    else:
        raise TidingsError(ErrorCode.USERSIG_MISSING,
                           "send 'Authorization: Bearer <admin UserSig>', 'ApiKey <key>' "
                           "or 'Operator <token>'")
    if app and app.strip() != str(caller.sdkappid):
        raise TidingsError(ErrorCode.APP_SCOPE_MISMATCH,
                           f"this credential is app {caller.sdkappid}'s; it acts on no other")
    return caller


async def _operator_admin(runtime: Runtime, token: str, app: str) -> AdminCaller:
    session = await runtime.operators.session(token)
    wanted = app.strip()
    if not (wanted.isascii() and wanted.isdigit() and len(wanted) <= 12):
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           "an operator names the app: 'Tidings-App: <sdkappid>'")
    found = await runtime.apps.get(int(wanted))
    return AdminCaller(found.sdkappid, f"operator:{session.name}")


async def current_admin(
    request: Request,
    # As dependencies, so that the OpenAPI spec tells clients how to log in.
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)],
    header: Annotated[str | None, Depends(api_key_header)],
    operator: Annotated[str | None, Depends(operator_header)],
    app: Annotated[str | None, Header(
        alias="Tidings-App", max_length=12,
        description="The app an operator acts on (its sdkappid); with another "
                    "credential, its own app or nothing (another app: 403 96103)")] = None,
) -> AdminCaller:
    checked = request.scope.get(ADMIN_KEY)
    if isinstance(checked, AdminCaller):
        return checked
    caller = await admin_from_header(runtime_of(request),
                                     request.headers.get("authorization", ""),
                                     request.headers.get(APP_HEADER, ""))
    request.scope[ADMIN_KEY] = caller  # for the access log
    return caller


Admin = Annotated[AdminCaller, Depends(current_admin)]


async def _media(request: Request, admin: AdminCaller, body: Any) -> Any:
    """The body's elements (JSON) with the uploads they name checked and
    filled in (docs/media.md)."""
    return await runtime_of(request).media.prepare_for(admin.sdkappid, None,
                                                       body.elements_json())
router = api_router(prefix="/v1/admin", tags=["admin"],
                   responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


@router.get("/accounts", response_model=AccountListOut)
async def list_accounts(
        request: Request, admin: Admin,
        after: Annotated[str, Query(max_length=32, description="the last user id of the "
                                                                "previous page")] = "",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        state: Annotated[str | None, Query(description="active, disabled or deleted")] = None,
        prefix: Annotated[str, Query(max_length=32, description="only user ids that start "
                                                                 "with this (case-sensitive)")
                          ] = "",
) -> JSON:
    """The app's accounts by user id, a page at a time, with their state,
    nickname, creation time and last login; ``next`` gives the next page."""
    return JSON(await runtime_of(request).accounts.list_accounts(
        admin.sdkappid, after=after, limit=limit, state=state, prefix=prefix))


@router.post("/accounts/import", response_model=ImportOut)
async def import_accounts(request: Request, admin: Admin, body: ImportAccountsRequest) -> JSON:
    """Create or update 1 to 100 accounts (user id, nickname, avatar URL).
    A field left out keeps its stored value; a deleted account comes back.
    One invalid entry refuses the whole batch."""
    accounts = [AccountImport(a.user_id, a.nickname, a.avatar_url) for a in body.accounts]
    results = await runtime_of(request).accounts.import_accounts(admin.sdkappid, accounts)
    return JSON({"results": results})


@router.post("/accounts/check", response_model=CheckOut)
async def check_accounts(request: Request, admin: Admin, body: UserIdsRequest) -> JSON:
    """Which of 1 to 100 user ids exist (imported, or logged in once, and
    not deleted)."""
    return JSON(await runtime_of(request).accounts.check(admin.sdkappid, body.user_ids))


@router.post("/accounts/delete", response_model=DeleteOut)
async def delete_accounts(request: Request, admin: Admin, body: UserIdsRequest) -> JSON:
    """Delete 1 to 100 accounts: they can no longer log in (70107), their live
    sessions are closed (4007); their messages stay."""
    results = await runtime_of(request).accounts.delete(admin.sdkappid, body.user_ids)
    return JSON({"results": results})


@router.post("/accounts/{user_id:path}/disable", response_model=StateOut)
async def disable_account(request: Request, admin: Admin, user_id: str) -> JSON:
    """The account can no longer log in (70051); its live sessions are closed (4006)."""
    return JSON(await runtime_of(request).accounts.set_enabled(admin.sdkappid, user_id, False))


@router.post("/accounts/{user_id:path}/enable", response_model=StateOut)
async def enable_account(request: Request, admin: Admin, user_id: str) -> JSON:
    """A disabled account may log in again."""
    return JSON(await runtime_of(request).accounts.set_enabled(admin.sdkappid, user_id, True))


@router.post("/accounts/{user_id:path}/kick", response_model=KickOut)
async def kick_account(request: Request, admin: Admin, user_id: str) -> JSON:
    """Close every live session of the user (4005) and revoke every UserSig
    issued before this second (70052); tickets signed from now on work."""
    return JSON(await runtime_of(request).accounts.kick(admin.sdkappid, user_id))


@router.get("/accounts/{user_id:path}/mute", response_model=MuteOut)
async def get_account_mute(request: Request, admin: Admin, user_id: str) -> JSON:
    """The account's global mute: seconds left for its one-to-one sends and
    its group sends (0: not muted, 4294967295: forever)."""
    return JSON(runtime_of(request).account_mutes.get(admin.sdkappid, user_id))


@router.put("/accounts/{user_id:path}/mute", response_model=MuteOut)
async def set_account_mute(request: Request, admin: Admin, user_id: str,
                           body: AccountMuteRequest) -> JSON:
    """Mute the account's one-to-one sends (20012) and/or its group sends
    (10017) for so many seconds (0 unmutes, 4294967295 is forever)."""
    if body.c2c_seconds is None and body.group_seconds is None:
        raise TidingsError(ErrorCode.INVALID_REQUEST, "give c2c_seconds or group_seconds")
    return JSON(await runtime_of(request).account_mutes.set(
        admin.sdkappid, user_id, body.c2c_seconds, body.group_seconds))


@router.get("/accounts/{user_id:path}/online", response_model=OnlineOut)
async def account_online(request: Request, admin: Admin, user_id: str) -> JSON:
    """The user's live WebSocket sessions on this server, one per device."""
    return JSON(runtime_of(request).accounts.online(admin.sdkappid, user_id))


# -- messages ----------------------------------------------------------------------


@router.post("/messages", response_model=AckOut, responses=errors(*SEND_ERRORS))
async def send_as(request: Request, admin: Admin, body: AdminSendRequest) -> JSON:
    """Send a message as ``from`` (any user of the app, not a deleted or
    disabled one). Same ack and idempotency (by ``from`` and
    ``client_msg_id``) as ``POST /v1/messages``; every device of both users
    gets the message live. The app's before- and after-send callbacks run
    unless ``forbid_callbacks`` names them."""
    committed = await runtime_of(request).admin_messaging.send(
        admin.sdkappid, body.sender, body.conversation_id, body.client_msg_id,
        await _media(request, admin, body), body.cloud_custom_data,
        SendContext("RESTAPI", client_ip(request), frozenset(body.forbid_callbacks)),
        body.mentions, body.offline_push)
    return JSON(ack_view(committed))


@router.post("/messages/batch", response_model=BatchOut)
async def batch_send(request: Request, admin: Admin, body: AdminBatchSendRequest) -> JSON:
    """One message from ``from`` to each of 1 to 500 users (repeats count
    once), each in its own one-to-one conversation, stored with the client
    message id ``<client_msg_id>:<user id>`` (so a retry is idempotent per
    recipient). One result per recipient, in order: its ack, or its error."""
    results = await runtime_of(request).admin_messaging.batch_send(
        admin.sdkappid, body.sender, body.to, body.client_msg_id,
        await _media(request, admin, body), body.cloud_custom_data,
        SendContext("RESTAPI", client_ip(request), frozenset(body.forbid_callbacks)))
    return JSON({"results": results})


@router.post("/messages/import", response_model=AckOut, responses=errors(*SEND_ERRORS))
async def import_message(request: Request, admin: Admin, body: AdminImportRequest) -> JSON:
    """Store a message from ``from`` with its original ``time`` (ms since the
    epoch, not in the future): Tencent's ``importmsg``. It takes the
    conversation's next seq (seq order is the truth; time is for display),
    and becomes the conversation's last message only if its time is not
    older than the last one's. ``mode: "history"`` (default) counts as unread
    for nobody and moves no read cursor; ``"realtime"`` counts like a send.
    Idempotent by ``from`` and ``client_msg_id``, as sends are."""
    committed = await runtime_of(request).admin_messaging.import_message(
        admin.sdkappid, body.sender, body.conversation_id, body.client_msg_id,
        await _media(request, admin, body), body.cloud_custom_data, body.time, body.import_mode())
    return JSON(ack_view(committed))


@router.post("/messages/{msg_id}/recall", response_model=ChangeAckOut)
async def recall_message(request: Request, admin: Admin, msg_id: str) -> JSON:
    """Recall any message of the app, however old (Tencent's
    ``admin_msgwithdraw``): its content is erased, it stays at its seq as
    ``recalled``, and a ``change`` entry goes to every device of both users.
    Again on a recalled message: the first recall's answer, ``duplicate: true``."""
    committed = await runtime_of(request).messaging.admin_change(
        admin.sdkappid, admin.actor, msg_id, EntryKind.RECALL)
    return JSON(ack_view(committed))


@router.post("/messages/{msg_id}/edit", response_model=ChangeAckOut)
async def edit_message(request: Request, admin: Admin, msg_id: str, body: EditRequest) -> JSON:
    """Replace the elements and/or the custom data of any message of the app
    (Tencent's ``modify_c2c_msg``); not of a recalled one (20023)."""
    committed = await runtime_of(request).messaging.admin_change(
        admin.sdkappid, admin.actor, msg_id, EntryKind.EDIT, await _media(request, admin, body),
        body.cloud_custom_data)
    return JSON(ack_view(committed))


@router.get("/conversations/{user_id}/{conversation_id:path}/messages",
            response_model=HistoryOut)
async def user_history(request: Request, admin: Admin, user_id: str, conversation_id: str,
                       before_seq: Annotated[int | None, Query(ge=1)] = None,
                       limit: Annotated[int | None, Query(ge=0)] = None) -> JSON:
    """A page of the user's conversation as the user sees it (as
    ``GET /v1/conversations/{conversation_id}/messages``)."""
    found, more = await runtime_of(request).admin_messaging.history(
        admin.sdkappid, user_id, conversation_id, before_seq=before_seq, limit=limit)
    return JSON({"messages": found, "more": more})


@router.post("/conversations/{user_id}/{conversation_id:path}/read", response_model=ReadOut)
async def user_mark_read(request: Request, admin: Admin, user_id: str, conversation_id: str,
                         body: Annotated[ReadRequest | None, Body()] = None) -> JSON:
    """Move the user's read cursor to ``seq`` (the newest message when
    absent; never back). Every device of the user gets a ``read`` event."""
    seq = body.seq if body is not None else None
    return JSON(await runtime_of(request).admin_messaging.mark_read(
        admin.sdkappid, user_id, conversation_id, seq, client_ip(request)))


@router.get("/users/{user_id}/conversations", response_model=ConversationListOut)
async def user_conversations(request: Request, admin: Admin, user_id: str,
                             limit: Annotated[int | None, Query(ge=0)] = None) -> JSON:
    """The user's conversations with unread counts (as ``GET /v1/conversations``)."""
    found = await runtime_of(request).admin_messaging.conversations(admin.sdkappid, user_id,
                                                                   limit)
    return JSON({"conversations": found})


@router.get("/users/{user_id}/unread", response_model=UnreadOut)
async def user_unread(request: Request, admin: Admin, user_id: str,
                      peer: Annotated[list[str] | None, Query(max_length=100)] = None) -> JSON:
    """The user's unread messages (Tencent's ``get_c2c_unread_msg_num``): the
    total, and per conversation those with unread messages, or with ``peer``
    (repeatable, up to 100) exactly the conversations with those users. The
    user's own messages, recalls and edits, and history imports never count."""
    return JSON(await runtime_of(request).admin_messaging.unread(admin.sdkappid, user_id, peer))


# -- profiles ----------------------------------------------------------------------


@router.post("/profiles/get", response_model=ProfilesOut)
async def get_profiles(request: Request, admin: Admin, body: UserIdsRequest) -> JSON:
    """The profiles of 1 to 100 users, in the order asked; unknown or deleted
    accounts are listed in ``missing``."""
    return JSON(await runtime_of(request).profiles.get(admin.sdkappid, body.user_ids))


@router.get("/profiles/{user_id:path}", response_model=ProfileOut)
async def get_profile(request: Request, admin: Admin, user_id: str) -> JSON:
    """One user's profile: the standard fields and the app's custom fields."""
    return JSON(await runtime_of(request).profiles.get_one(admin.sdkappid, user_id))


@router.patch("/profiles/{user_id:path}", response_model=ProfileOut)
async def set_profile(request: Request, admin: Admin, user_id: str,
                      body: ProfilePatch) -> JSON:
    """Change any of the user's profile fields (a field left out keeps its
    value; ``null`` in ``custom`` removes that key). The account must exist.
    The user's devices get a ``profile`` event."""
    return JSON(await runtime_of(request).profiles.set(admin.sdkappid, user_id, body))


# -- broadcasts and figures ----------------------------------------------------------


@router.post("/broadcasts", response_model=BroadcastStartOut, status_code=202,
             responses=errors(409))
async def start_broadcast(request: Request, admin: Admin, body: AdminBroadcastRequest) -> JSON:
    """Send one message from ``from`` to every account of the app (not
    deleted, not the sender), each in its one-to-one conversation with
    ``from``: stored, delivered live to those online, synced by the rest.
    Runs in the background and survives a restart; follow it with
    ``GET /v1/admin/broadcasts/{id}``. The same ``client_msg_id`` again
    answers the first broadcast (``duplicate: true``)."""
    started = await runtime_of(request).broadcasts.create(
        admin.sdkappid, body.sender, body.client_msg_id, await _media(request, admin, body),
        body.cloud_custom_data)
    return JSON(started, status_code=202)


@router.get("/broadcasts", response_model=BroadcastListOut)
async def list_broadcasts(request: Request, admin: Admin,
                          limit: Annotated[int, Query(ge=1, le=100)] = 20) -> JSON:
    """The app's most recent broadcasts, newest first."""
    return JSON({"broadcasts": await runtime_of(request).broadcasts.recent(admin.sdkappid,
                                                                           limit)})


@router.get("/broadcasts/{broadcast_id}", response_model=BroadcastOut)
async def get_broadcast(request: Request, admin: Admin, broadcast_id: int) -> JSON:
    """A broadcast's progress: ``sent`` and ``skipped`` recipients so far."""
    return JSON(await runtime_of(request).broadcasts.get(admin.sdkappid, broadcast_id))


@router.get("/stats", response_model=StatsOut)
async def stats(request: Request, admin: Admin) -> JSON:
    """Registered accounts, accounts that logged in today (UTC), messages
    stored today, and live connections on this server."""
    return JSON(await runtime_of(request).stats.figures(admin.sdkappid))


# -- retention -----------------------------------------------------------------------


@router.get("/settings/retention", response_model=RetentionOut)
async def get_retention(request: Request, admin: Admin) -> JSON:
    """How many days the app keeps its messages (0: for ever, the default)."""
    return JSON({"retention_days": await runtime_of(request).retention.days(admin.sdkappid)})


@router.put("/settings/retention", response_model=RetentionOut)
async def put_retention(request: Request, admin: Admin, body: RetentionRequest) -> JSON:
    """Keep the app's messages ``retention_days`` days (0: for ever; at
    most 3650). Older messages, with their reactions, search rows and the
    media only they carry, are removed by the retention collector's next
    run; seqs, cursors and unread counts of the rest do not change."""
    days = await runtime_of(request).retention.set_days(admin.sdkappid, body.retention_days)
    return JSON({"retention_days": days})


# -- callbacks -----------------------------------------------------------------------


def _no_callbacks() -> TidingsError:
    return TidingsError(ErrorCode.NOT_FOUND, "this app has no callback URL")


@router.get("/callbacks", response_model=CallbacksOut)
async def get_callbacks(request: Request, admin: Admin) -> JSON:
    """The app's callback settings; 404 (10010) while it has none."""
    found = await runtime_of(request).callbacks.settings(admin.sdkappid)
    if found is None:
        raise _no_callbacks()
    return JSON(found.view())


@router.put("/callbacks", response_model=CallbacksOut)
async def put_callbacks(request: Request, admin: Admin, body: CallbacksRequest) -> JSON:
    """Set the app's callbacks. A field left out keeps its value; the first
    call needs ``url``, and a token is made when none is given. ``events``
    switches events on (true) or off (false); once a URL is set every event is
    on unless switched off. A running server uses the new settings at once."""
    callbacks = runtime_of(request).callbacks
    current = await callbacks.settings(admin.sdkappid)
    events = body.events or {}
    new = apply_changes(
        current, admin.sdkappid, url=body.url, token=body.token, format=body.format,
        enable=[name for name, on in events.items() if on],
        disable=[name for name, on in events.items() if not on],
        timeout_ms=body.timeout_ms, failure_policy=body.failure_policy)
    return JSON((await callbacks.put_settings(new)).view())


@router.delete("/callbacks", response_model=DeletedOut)
async def delete_callbacks(request: Request, admin: Admin) -> JSON:
    """Turn the app's callbacks off. Queued after-callbacks are not sent
    (they are marked skipped)."""
    if not await runtime_of(request).callbacks.delete_settings(admin.sdkappid):
        raise _no_callbacks()
    return JSON({"deleted": True})


@router.get("/callbacks/deliveries", response_model=DeliveriesOut)
async def callback_deliveries(
        request: Request, admin: Admin,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        status: Annotated[str | None, Query(description=f"one of {', '.join(STATUSES)}")] = None
) -> JSON:
    """The app's most recent after-callbacks and test events, newest first,
    with their status, attempts and last error."""
    if status is not None and status not in STATUSES:
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"status: one of {', '.join(STATUSES)}")
    found = await runtime_of(request).callbacks.deliveries(admin.sdkappid, limit, status)
    return JSON({"deliveries": found})


@router.post("/callbacks/test", response_model=CallbackTestOut)
async def callback_test(request: Request, admin: Admin) -> JSON:
    """Send the ``test`` event to the app's callback URL now, once, and say
    how it went (it is recorded with the deliveries)."""
    return JSON(await runtime_of(request).callbacks.send_test(admin.sdkappid))
