"""``Authorization: Bearer <UserSig>``: the ticket names its app and user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity
from tidings.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="A UserSig of the app's user")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def client_ip(request: Request) -> str:
    return request.client.host if request.client is not None else ""


# Where the edge's body limit (api/limits.py) leaves the identity it checked
# before the body was read, so that the route does not check it again.
IDENTITY_KEY = "tidings.identity"


async def identity_from_header(runtime: Runtime, authorization: str) -> Identity:
    """The identity of an ``Authorization: Bearer <UserSig>`` header value."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TidingsError(ErrorCode.USERSIG_MISSING,
                           "send 'Authorization: Bearer <UserSig>'")
    return await runtime.auth.login(token.strip())


async def current_identity(
    request: Request,
    # As a dependency, so that the OpenAPI spec tells clients how to log in.
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Identity:
    checked = request.scope.get(IDENTITY_KEY)
    if isinstance(checked, Identity):
        return checked
    if credentials is None:
        raise TidingsError(ErrorCode.USERSIG_MISSING,
                           "send 'Authorization: Bearer <UserSig>'")
    identity = await runtime_of(request).auth.login(credentials.credentials)
    request.scope[IDENTITY_KEY] = identity  # for the access log
    return identity
