"""Tencent Cloud IM's server REST API (v4), as an adapter over our services.

An app that calls ``https://console.tim.qq.com/v4/{service}/{command}?...``
changes the base URL to a Tidings server and keeps working:

- ``POST /v4/{service}/{command}?sdkappid=&identifier=&usersig=&random=&contenttype=json``
  with a UserSig of one of the app's admin accounts (``identifier``);
- always HTTP 200, with ``ActionStatus`` (``OK``/``FAIL``), ``ErrorCode`` and
  ``ErrorInfo``, and each command's documented result fields;
- Tencent's field names (``From_Account``, ``To_Account``, ``MsgBody`` ...);
  fields we do not know are ignored, as Tencent does.

Every command calls the same services as the native API; nothing here
stores or delivers anything itself. docs/tencent-compat.md lists what is
supported and what differs.

This module is the envelope (the route, the errors, the command registry);
the commands are registered on import, one module per Tencent service:
``tencent_v4_accounts``, ``tencent_v4_profiles``, ``tencent_v4_messages``,
``tencent_v4_friends``, ``tencent_v4_groups`` and ``tencent_v4_group_admin``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from tidings.api import errors
from tidings.api.admin import ADMIN_KEY
from tidings.api.auth import runtime_of
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.accounts import MAX_BATCH
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import check_user_id
from tidings.runtime import Runtime

router = api_router(tags=["tencent-v4"])

# -- the envelope -----------------------------------------------------------------

# Where Tencent's number for a condition differs from ours.
_TENCENT_CODE: dict[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 90010,  # "JSON format is invalid or a field is missing"
    ErrorCode.MALFORMED_JSON: 90001,
    ErrorCode.INVALID_USER_ID: 90010,
    ErrorCode.NOT_FOUND: 70107,  # "the account does not exist"
    ErrorCode.USERSIG_MISSING: 70003,
}
# Per service, where its documentation names another number.
_SERVICE_CODE: dict[tuple[str, ErrorCode], int] = {
    ("im_open_login_svc", ErrorCode.INVALID_REQUEST): 70402,
    ("im_open_login_svc", ErrorCode.INVALID_USER_ID): 70402,
    ("im_open_login_svc", ErrorCode.NOT_ADMIN): 70403,
    ("profile", ErrorCode.INVALID_REQUEST): 40001,
    ("profile", ErrorCode.INVALID_USER_ID): 40001,
    ("profile", ErrorCode.NOT_FOUND): 40003,
}
UNKNOWN_COMMAND = 60020  # Tencent: "the API does not exist"


def tencent_code(service: str, code: ErrorCode) -> int:
    return _SERVICE_CODE.get((service, code), _TENCENT_CODE.get(code, int(code)))


def ok(**fields: Any) -> JSON:
    return JSON({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **fields})


def fail(code: int, info: str) -> JSON:
    return JSON({"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info})


class V4Body(BaseModel):
    # Tencent ignores fields it does not know; so do we. Types stay strict.
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)


Handler = Callable[[Runtime, int, dict[str, Any]], Awaitable[dict[str, Any]]]
# The admin account a request names (``identifier``): Tencent sends as it when
# a message names no ``From_Account``.
_CALLER: ContextVar[str] = ContextVar("v4_caller", default="administrator")
# The address of the app's server that called, for the message callbacks'
# ``ClientIP`` (Tencent's is the caller's address).
CLIENT_IP: ContextVar[str] = ContextVar("v4_client_ip", default="")
COMMANDS: dict[tuple[str, str], Handler] = {}


def command(service: str, name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[(service, name)] = handler
        return handler
    return register


M = TypeVar("M", bound=V4Body)


def parse(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"{where}: {first['msg']}") from None


@router.post("/v4/{service}/{name}", summary="Tencent Cloud IM v4 REST API")
async def v4(request: Request, service: str, name: str,
             sdkappid: Annotated[str, Query()] = "",
             identifier: Annotated[str, Query()] = "",
             usersig: Annotated[str, Query()] = "",
             random: Annotated[str, Query()] = "",
             contenttype: Annotated[str, Query()] = "json") -> JSON:
    """Tencent's server API: see docs/tencent-compat.md for the commands.
    Always HTTP 200; the outcome is in ``ActionStatus``/``ErrorCode``."""
    handler = COMMANDS.get((service, name))
    if handler is None:
        return fail(UNKNOWN_COMMAND, f"v4/{service}/{name} is not supported "
                                     "(docs/tencent-compat.md lists what is)")
    try:
        rt = runtime_of(request)
        app_id = _int_param("sdkappid", sdkappid)
        if contenttype.lower() != "json":
            raise TidingsError(ErrorCode.INVALID_REQUEST, "contenttype must be json")
        caller = await rt.auth.admin_by_usersig(usersig, sdkappid=app_id, user_id=identifier)
        request.scope[ADMIN_KEY] = caller  # for the access log
        body = _json_object(await request.body())
        _CALLER.set(identifier)
        CLIENT_IP.set(request.client.host if request.client else "")
        return ok(**await handler(rt, caller.sdkappid, body))
    except TidingsError as exc:
        # Answered with HTTP 200, as Tencent does: the access log and the
        # error counts still get the code.
        errors.note(request.scope, exc)
        return fail(tencent_code(service, exc.code), exc.message)
    except V4Error as exc:
        return fail(exc.code, exc.message)


async def missing_accounts(rt: Runtime, sdkappid: int, user_ids: Sequence[str]) -> set[str]:
    """Which of these (valid) user ids name no account of the app: never
    imported, nor logged in, or deleted. Tencent refuses such accounts where
    the native API takes any user id (docs/tencent-compat.md)."""
    ids = list(dict.fromkeys(u for u in user_ids if _valid_user_id(u)))
    missing: set[str] = set()
    for start in range(0, len(ids), MAX_BATCH):
        found = await rt.accounts.check(sdkappid, ids[start:start + MAX_BATCH])
        missing.update(found["missing"])
    return missing


async def require_accounts(rt: Runtime, sdkappid: int, user_ids: Sequence[str],
                           code: int = 70107) -> None:
    """Refuse the request (Tencent's ``code``) if one of these accounts does not exist."""
    missing = await missing_accounts(rt, sdkappid, user_ids)
    for user_id in user_ids:
        if user_id in missing:
            raise no_account(user_id, code)


def no_account(user_id: str, code: int) -> V4Error:
    return V4Error(code, f"the account {user_id!r} does not exist "
                         "(import it first: im_open_login_svc/account_import)")


class V4Error(Exception):
    """A failure answered with Tencent's own number, which has no native code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _valid_user_id(user_id: str) -> bool:
    try:
        check_user_id(user_id)
    except TidingsError:
        return False
    return True


def _int_param(field: str, raw: str) -> int:
    if not raw.isdigit() or len(raw) > 19:
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"{field}: an unsigned integer")
    return int(raw)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise TidingsError(ErrorCode.MALFORMED_JSON, "the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise TidingsError(ErrorCode.MALFORMED_JSON, "the body must be a JSON object")
    return doc
