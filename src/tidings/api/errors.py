"""Every REST error is ``{"error": {"code", "name", "message"}}`` with a
stable code; nothing else (no traceback, no framework default) reaches a
client."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from tidings import metrics
from tidings.api.responses import JSON
from tidings.domain.errors import ErrorCode, TidingsError

log = logging.getLogger(__name__)

# Where an error answer leaves its code for the access log (api/access_log.py).
ERROR_KEY = "tidings.error"


def note(scope: MutableMapping[str, Any], error: TidingsError) -> None:
    """Count an error answer by code, and name it in the request's access line."""
    scope[ERROR_KEY] = int(error.code)
    metrics.ERRORS.labels("http", str(int(error.code))).inc()


def error_response(error: TidingsError, status: int | None = None) -> JSON:
    return JSON({"error": error.to_dict()}, status_code=status or error.http_status)


def _answer(request: Request, error: TidingsError, status: int | None = None) -> JSON:
    note(request.scope, error)
    return error_response(error, status)


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    if first.get("type") == "json_invalid":
        return "request body is not valid JSON"
    if tuple(first.get("loc", ())) == ("body",):
        return "request body must be a JSON object sent as 'Content-Type: application/json'"
    return f"{loc or 'request'}: {first.get('msg', 'invalid')}"


def install(app: FastAPI) -> None:
    @app.exception_handler(TidingsError)
    async def tidings_error(request: Request, exc: TidingsError) -> JSON:
        return _answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSON:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = tuple(first.get("loc", ()))
        if first.get("type") == "json_invalid":
            code = ErrorCode.MALFORMED_JSON
        elif loc[:2] == ("body", "elements"):
            code = ErrorCode.INVALID_MESSAGE_BODY
        else:
            code = ErrorCode.INVALID_REQUEST
        return _answer(request, TidingsError(code, _validation_message(exc)))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSON:
        code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.INVALID_REQUEST
        return _answer(request, TidingsError(code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSON:
        log.exception("unhandled error", exc_info=exc)
        return _answer(request, TidingsError(ErrorCode.INTERNAL,
                                             "internal error; it was logged"))
