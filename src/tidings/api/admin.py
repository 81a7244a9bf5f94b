"""The native admin API under ``/v1/admin``: an app's server manages its own
accounts. The app is always the one the credential names."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from tidings.api.auth import runtime_of
from tidings.api.models import (
    CheckOut,
    DeleteOut,
    ErrorOut,
    ImportOut,
    KickOut,
    OnlineOut,
    StateOut,
)
from tidings.api.responses import JSON
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.requests import ImportAccountsRequest, UserIdsRequest
from tidings.services.auth import AdminCaller
from tidings.store.accounts import AccountImport

admin_bearer = HTTPBearer(auto_error=False, scheme_name="AdminUserSig",
                          description="A UserSig of one of the app's admin accounts")
api_key_header = APIKeyHeader(name="Authorization", auto_error=False, scheme_name="ApiKey",
                              description="`ApiKey tdk_<sdkappid>_...`, an app API key "
                                          "made with `tidings app api-key create`")


async def current_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)],
    header: Annotated[str | None, Depends(api_key_header)],
) -> AdminCaller:
    auth = runtime_of(request).auth
    if credentials is not None:
        return await auth.admin_by_usersig(credentials.credentials)
    scheme, _, key = (header or "").partition(" ")
    if scheme.lower() == "apikey" and key.strip():
        return await auth.admin_by_api_key(key.strip())
    raise TidingsError(ErrorCode.USERSIG_MISSING, "send 'Authorization: Bearer <admin UserSig>' "
                                                  "or 'Authorization: ApiKey <key>'")


Admin = Annotated[AdminCaller, Depends(current_admin)]
router = APIRouter(prefix="/v1/admin", tags=["admin"],
                   responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


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


@router.get("/accounts/{user_id:path}/online", response_model=OnlineOut)
async def account_online(request: Request, admin: Admin, user_id: str) -> JSON:
    """The user's live WebSocket sessions on this server, one per device."""
    return JSON(runtime_of(request).accounts.online(admin.sdkappid, user_id))
