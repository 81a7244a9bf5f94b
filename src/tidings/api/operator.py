"""The deployment's operators on the REST API (``/v1/operator``,
docs/console.md): sign in and out, and the apps of the whole deployment.

An operator acts on one app through the native admin API (``/v1/admin``)
with ``Authorization: Operator <token>`` and ``Tidings-App: <sdkappid>``
(api/admin.py); the routes here are the ones that no app's credential
may call: listing and creating apps.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from tidings.api.auth import client_ip, runtime_of
from tidings.api.models import ErrorOut
from tidings.api.openapi_doc import errors
from tidings.api.operator_models import (
    AppCreatedOut,
    AppCreateRequest,
    AppsOut,
    OperatorMeOut,
    OperatorSessionOut,
    OperatorSessionsOut,
    SignedOutOut,
    SignInRequest,
)
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.apps import app_view, check_app_fields
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import check_user_id
from tidings.domain.operators import OperatorSession
from tidings.runtime import Runtime

operator_header = APIKeyHeader(name="Authorization", auto_error=False, scheme_name="Operator",
                               description="`Operator tdo_...`, the token of an operator's "
                                           "sign-in (`POST /v1/operator/sign-in`)")

# Where the edge's body limit (api/limits.py) leaves the session it checked.
OPERATOR_KEY = "tidings.operator"


def operator_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Operator <token>`` header value."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "operator" or not token.strip():
        return None
    return token.strip()


async def operator_from_header(runtime: Runtime, authorization: str) -> OperatorSession:
    token = operator_token(authorization)
    if token is None:
        raise TidingsError(ErrorCode.OPERATOR_SESSION_INVALID,
                           "send 'Authorization: Operator <token>' (POST /v1/operator/sign-in)")
    return await runtime.operators.session(token)


async def current_operator(
    request: Request,
    # As a dependency, so that the OpenAPI spec tells clients how to sign in.
    header: Annotated[str | None, Depends(operator_header)],
) -> OperatorSession:
    checked = request.scope.get(OPERATOR_KEY)
    if isinstance(checked, OperatorSession):
        return checked
    found = await operator_from_header(runtime_of(request),
                                       request.headers.get("authorization", ""))
    request.scope[OPERATOR_KEY] = found
    return found


Operator = Annotated[OperatorSession, Depends(current_operator)]

router = api_router(prefix="/v1/operator", tags=["operator"],
                   responses={401: {"model": ErrorOut}})


@router.post("/sign-in", response_model=OperatorSessionOut, responses=errors(429))
async def sign_in(request: Request, body: SignInRequest) -> JSON:
    """Sign an operator in (an operator made with ``tidings operator
    create``): a token for ``Authorization: Operator <token>``, good for
    ``operator_session_hours``. A wrong name or password is 96100 either
    way; too many tries lock the name out (96101) or the address (10005)."""
    return JSON(await runtime_of(request).operators.sign_in(body.name, body.password,
                                                            client_ip(request)))


@router.post("/sign-out", response_model=SignedOutOut)
async def sign_out(request: Request, operator: Operator) -> JSON:
    """End this sign-in: its token is refused from now on, in every process."""
    token = operator_token(request.headers.get("authorization", ""))
    assert token is not None  # current_operator checked it
    await runtime_of(request).operators.sign_out(token)
    return JSON({"signed_out": True})


@router.get("/sessions", response_model=OperatorSessionsOut)
async def sessions(request: Request, operator: Operator) -> JSON:
    """The signed-in operator's live sign-ins, newest first (``current``:
    this one), each with the address it signed in from."""
    token = operator_token(request.headers.get("authorization", ""))
    assert token is not None  # current_operator checked it
    return JSON({"sessions": await runtime_of(request).operators.sessions(operator.name, token)})


@router.delete("/sessions/{session_id}", response_model=SignedOutOut, responses=errors(404))
async def end_session(request: Request, operator: Operator, session_id: str) -> JSON:
    """Sign out one of the operator's own sign-ins (another device's, or
    this one); 10010 for an id that is not one of them."""
    await runtime_of(request).operators.end(operator.name, session_id)
    return JSON({"signed_out": True})


@router.get("/me", response_model=OperatorMeOut)
async def me(operator: Operator) -> JSON:
    """Who is signed in, and until when."""
    return JSON({"name": operator.name, "created_at": operator.created_at,
                 "expires_at": operator.expires_at})


@router.get("/apps", response_model=AppsOut)
async def list_apps(request: Request, operator: Operator) -> JSON:
    """Every app of the deployment, the home app too, oldest first (without
    their keys: ``GET /v1/admin/app`` with ``Tidings-App`` shows them)."""
    found = await runtime_of(request).apps.list()
    return JSON({"apps": [app_view(a, with_keys=False) for a in found]})


@router.post("/apps", response_model=AppCreatedOut, status_code=201)
async def create_app(request: Request, operator: Operator, body: AppCreateRequest) -> JSON:
    """A new app with its first secret key (``secret_key``, also in
    ``keys``) and its first admin account, as ``tidings app create``."""
    check_app_fields(body.name, body.icon_url)
    check_user_id(body.admin)
    app, key = await runtime_of(request).apps.create(body.name.strip(), body.icon_url,
                                                     body.admin)
    return JSON({**app_view(app, with_keys=True), "secret_key": key}, status_code=201)
