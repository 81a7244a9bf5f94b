"""Answers that whole groups of routes give, declared in the OpenAPI document
where FastAPI cannot see them (tests/api/test_openapi_fuzz.py holds the
document to what the server answers):

- 403 on every admin route (``/v1/admin/...``): a ticket of a user who is
  not the app's admin (90009);
- 404 on every route with a path parameter: a path that names nothing, or a
  parameter that no route's pattern takes (a newline, an encoded slash), is
  answered with the JSON error 10010;
- an error is JSON on every route, also where the route's own answer is
  not (``/l/{sdkappid}`` is a text/html page), and a redirect (307 from
  ``GET /v1/media/{media_id}``) has no body."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tidings.api.models import ErrorOut

URL = "/openapi.json"

# The documents built in this process, by the routes they describe, and
# their encoded bodies.
_BUILT: dict[tuple[object, ...], tuple[dict[str, Any], bytes]] = {}
_BUILDING = threading.Lock()

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorOut"}}}}


def install(app: FastAPI) -> None:
    """Serve the document at ``URL`` (the app is made with
    ``openapi_url=None``) and make ``app.openapi()`` the process's shared
    one, with the answers above added to each operation that gives them
    (FastAPI includes routers lazily: the document, not the routes, is
    where they can be added once for all)."""
    make: Callable[[], dict[str, Any]] = app.openapi

    # This app's document once known: later requests neither walk the
    # routes for the key nor take the lock nor hop to a thread.
    mine: list[tuple[dict[str, Any], bytes]] = []

    def built() -> tuple[dict[str, Any], bytes]:
        if not mine:
            key = _routes_key(app)
            with _BUILDING:
                if key not in _BUILT:
                    doc = _with_common_answers(make())
                    _BUILT[key] = (doc, orjson.dumps(doc))
            mine.append(_BUILT[key])
        return mine[0]

    def openapi() -> dict[str, Any]:
        doc, _ = built()
        app.openapi_schema = doc
        return doc

    async def openapi_json(request: Request) -> Response:
        doc, body = mine[0] if mine else await run_in_threadpool(built)
        root_path = request.scope.get("root_path", "").rstrip("/")
        if root_path and root_path not in {s.get("url") for s in doc.get("servers", [])}:
            # Behind a proxy's prefix, as FastAPI's own route says it.
            body = orjson.dumps({**doc, "servers": [{"url": root_path},
                                                    *doc.get("servers", [])]})
        return Response(body, media_type="application/json")

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_route(URL, openapi_json, include_in_schema=False)


def _routes_key(app: FastAPI) -> tuple[object, ...]:
    """What the document is a function of: the app's name and version and
    each route's kind, path, methods and endpoint."""
    return (app.title, app.version, app.summary, tuple(
        (type(route).__name__, getattr(route, "path", ""),
         tuple(sorted(getattr(route, "methods", None) or ())),
         getattr(getattr(route, "endpoint", None), "__qualname__", None))
        for route in app.routes))


def _with_common_answers(doc: dict[str, Any]) -> dict[str, Any]:
    """The answers of the module's docstring added where they apply."""
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            answers = operation.setdefault("responses", {})
            if path.startswith("/v1/admin"):
                answers.setdefault("403", _error("not the app's admin (90009)"))
            if "{" in path:
                answers.setdefault("404", _error("no such thing (10010)"))
            for status, answer in answers.items():
                content = answer.get("content", {})
                if status.startswith("3"):
                    answer.pop("content", None)  # a redirect has no body
                elif status >= "400" and "application/json" not in content:
                    # errors are JSON whatever the route's own answer is
                    answer["content"] = _error("")["content"]
    return doc


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers these statuses with the JSON
    error (``ErrorOut``) beyond the 400 and 401 that every route declares."""
    return {status: {"model": ErrorOut} for status in statuses}


# What a send answers beyond 400/401 (blocked or not a member, an upload that
# is not there, a client_msg_id reused with other content, too big, a flood).
SEND_ERRORS = (403, 404, 409, 413, 429)
