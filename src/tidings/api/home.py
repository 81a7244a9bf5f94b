"""The home app (hosted Tidings accounts, issue 5) over REST: what a
messenger needs before anyone signs in, sign-in and sign-out, and the
signed-in account's own settings (docs/home-accounts.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from tidings.api.auth import bearer, client_ip, runtime_of
from tidings.api.openapi_doc import errors
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.home_accounts import Channel
from tidings.protocol.home import (
    CodeRequestIn,
    CodeSentOut,
    CodeSignInIn,
    HomeAccountOut,
    HomeCardOut,
    MeIn,
    PasswordChangeIn,
    PasswordIn,
    SessionsOut,
    SignedInOut,
    SignedOutOut,
)
from tidings.services.home_accounts import Caller

router = api_router(prefix="/v1/home", tags=["home"])

def home_client_ip(request: Request) -> str:
    """The client as the server sees it: the socket's peer, or, behind a
    proxy named in ``trusted_proxies``, the right-most address of
    ``X-Forwarded-For`` that is not a trusted proxy (uvicorn resolves it;
    see server.py)."""
    return client_ip(request)[:64]


async def home_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None:
        raise TidingsError(ErrorCode.USERSIG_MISSING,
                           "send 'Authorization: Bearer <UserSig>' from a home sign-in")
    runtime = runtime_of(request)
    identity = await runtime.auth.login(credentials.credentials)
    return runtime.home_accounts.caller(identity, credentials.credentials)


Me = Annotated[Caller, Depends(home_caller)]


@router.get("")
async def home_app(request: Request) -> JSON:
    """The built-in home app: its ``sdkappid`` (the app a messenger signs in
    to, like any app's client), ``name`` and ``icon_url``. No sign-in needed."""
    runtime = runtime_of(request)
    app = await runtime.apps.get(runtime.home_sdkappid)
    return JSON({"sdkappid": app.sdkappid, "name": app.name, "icon_url": app.icon_url})


@router.post("/register", response_model=SignedInOut, responses=errors(409, 429))
async def register(request: Request, body: PasswordIn) -> JSON:
    """Make an account with a username (its public handle: 3 to 32 of a-z,
    0-9, ``_`` and ``.``, case-insensitive) and a password (8 characters or
    more), and sign in. 96003 when the username is taken."""
    return JSON(await runtime_of(request).home_accounts.register(
        body.username, body.password, home_client_ip(request)))


@router.post("/sign-in/password", response_model=SignedInOut)
async def sign_in_password(request: Request, body: PasswordIn) -> JSON:
    """Sign in with username and password. An unknown username and a wrong
    password both answer 96000; too many tries for one username answer
    96001 (with ``retry_after`` seconds) until the lock-out ends."""
    return JSON(await runtime_of(request).home_accounts.sign_in_password(
        body.username, body.password, home_client_ip(request)))


@router.post("/codes", response_model=CodeSentOut, responses=errors(429))
async def request_code(request: Request, body: CodeRequestIn) -> JSON:
    """Send a 6-digit one-time code to an e-mail address or a phone number
    (E.164). The answer is the same whether an account has that address or
    not; the code itself travels only to the address."""
    return JSON(await runtime_of(request).home_accounts.request_code(
        Channel(body.channel), body.address, home_client_ip(request)))


@router.post("/sign-in/code", response_model=SignedInOut)
async def sign_in_code(request: Request, body: CodeSignInIn) -> JSON:
    """Sign in with the code sent to the address; the first time, this also
    makes the account (``created: true``). A code works once, for a short
    time, and for a few tries (96002 otherwise)."""
    return JSON(await runtime_of(request).home_accounts.sign_in_code(
        Channel(body.channel), body.address, body.code, home_client_ip(request)))


@router.post("/sign-out")
async def sign_out(request: Request, me: Me) -> JSON:
    """Revoke the UserSig of this request (its session): it stops working
    for REST and login, and the sockets logged in with it close (4005)."""
    return JSON(await runtime_of(request).home_accounts.sign_out(me))


@router.post("/sign-out-everywhere")
async def sign_out_everywhere(request: Request, me: Me) -> JSON:
    """Revoke every UserSig of this account issued until now and close every
    socket; sign in again afterwards."""
    return JSON(await runtime_of(request).home_accounts.sign_out_everywhere(me))


@router.get("/sessions", response_model=SessionsOut)
async def sessions(request: Request, me: Me) -> JSON:
    """The account's live sign-ins (neither signed out nor expired), newest
    first; ``current`` marks the one this request is made with."""
    return JSON(await runtime_of(request).home_accounts.sessions(me))


@router.delete("/sessions/{session_id}", response_model=SignedOutOut, responses=errors(404))
async def sign_out_session(request: Request, me: Me, session_id: str) -> JSON:
    """Sign out one of the account's sessions (a lost phone): its UserSig
    stops working and its sockets close (4005). 404 when no live session of
    this account has that id."""
    return JSON(await runtime_of(request).home_accounts.sign_out_session(me, session_id[:64]))


@router.get("/me", response_model=HomeAccountOut)
async def me(request: Request, caller: Me) -> JSON:
    """The signed-in account, with its private e-mail and phone."""
    return JSON(await runtime_of(request).home_accounts.me(caller))


@router.patch("/me", response_model=HomeAccountOut)
async def update_me(request: Request, caller: Me, body: MeIn) -> JSON:
    """Change the display name, the avatar URL or the username; a field
    left out keeps its value."""
    return JSON(await runtime_of(request).home_accounts.update_me(
        caller, body.display_name, body.avatar_url, body.username))


@router.post("/password")
async def change_password(request: Request, caller: Me, body: PasswordChangeIn) -> JSON:
    """Change the password (``current_password`` required when there is
    one; an account made by a code sets its first one without it). Every
    other session of the account is signed out; this one stays."""
    return JSON(await runtime_of(request).home_accounts.change_password(
        caller, body.current_password, body.new_password))


@router.get("/users/{username}", response_model=HomeCardOut)
async def find_user(request: Request, caller: Me, username: str) -> JSON:
    """Find a person by username (the only public handle; e-mail and phone
    never are). Needs a home sign-in."""
    return JSON(await runtime_of(request).home_accounts.find(username))
