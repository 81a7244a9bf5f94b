"""Request bodies at the edge (issue 18): each route's body limit, checked on
``Content-Length`` before a byte is read and while a chunked body streams,
and the credentials of a route that needs them checked before its body is
read. FastAPI reads (and parses) a route's JSON body before it solves the
route's dependencies, so without this a client with no credentials could
make the server hold any number of bytes before its 401.

Limits (docs/rest.md, "Request sizes"):

- the raw-body media uploads (``POST /v1/media``, ``PUT /v1/uploads/{id}``)
  stream their bytes after their credentials are checked and keep their own
  limits (the app's media limit, ``TIDINGS_MEDIA_PART_MAX_BYTES``);
- the admin API (``/v1/admin/...``, Tencent's ``/v4/...``: imports, batch
  sends) takes ``TIDINGS_MAX_ADMIN_BODY_BYTES``;
- every other route ``TIDINGS_MAX_BODY_BYTES`` (0: eight times
  ``TIDINGS_MAX_MESSAGE_BYTES``, at least 64 KiB: a message and its JSON
  escapes).

Over the limit: 413 with code 10070 ``request_too_large`` and ``Connection:
close`` (the rest of the body is not read)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.api import admin, auth, errors, home, media, operator
from tidings.config import Settings
from tidings.domain.errors import ErrorCode, TidingsError

# Routes whose bytes are files, streamed by the route itself.
_RAW_UPLOADS = re.compile(r"^/v1/(media|uploads/[^/]+)$")
_ADMIN = re.compile(r"^/(v1/admin/|v4/)")

Check = Callable[[Scope], Awaitable[None]]


def body_limit(settings: Settings) -> int:
    return settings.max_body_bytes or max(64 * 1024, 8 * settings.max_message_bytes)


def _runtime(scope: Scope) -> Any:
    return scope["app"].state.runtime


def _header(scope: Scope, wanted: bytes = b"authorization") -> str:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return ""


def _authorization(scope: Scope) -> str:
    return _header(scope)


async def _user(scope: Scope) -> None:
    scope[auth.IDENTITY_KEY] = await auth.identity_from_header(
        _runtime(scope), _authorization(scope))


async def _home(scope: Scope) -> None:
    await auth.identity_from_header(_runtime(scope), _authorization(scope))


async def _admin(scope: Scope) -> None:
    scope[admin.ADMIN_KEY] = await admin.admin_from_header(
        _runtime(scope), _authorization(scope), _header(scope, admin.APP_HEADER.encode()))


async def _operator(scope: Scope) -> None:
    scope[operator.OPERATOR_KEY] = await operator.operator_from_header(
        _runtime(scope), _authorization(scope))


async def _media(scope: Scope) -> None:
    await media.media_caller(Request(scope))


# The dependency a route's credentials come from, and how to check them
# from the headers alone.
_CHECKS: dict[Callable[..., Any], Check] = {
    auth.current_identity: _user,
    home.home_caller: _home,
    admin.current_admin: _admin,
    operator.current_operator: _operator,
    media.media_caller: _media,
}


def _check_of(route: APIRoute) -> Check | None:
    todo = list(route.dependant.dependencies)
    while todo:
        dep = todo.pop()
        check = _CHECKS.get(dep.call) if dep.call is not None else None
        if check is not None:
            return check
        todo.extend(dep.dependencies)
    return None


class BodyLimits:
    """The ASGI middleware; ``create_app`` installs it outermost."""

    def __init__(self, app: ASGIApp, settings: Settings, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.limit = body_limit(settings)
        self.admin_limit = settings.max_admin_body_bytes
        # The routes, by method, with each path's static start to skip most
        # regexes; a route's check (None: it needs no credentials here, or
        # checks them itself) is found at its first request with a body:
        # finding it builds the route (api/routers.py's LazyRoute), which
        # its request would do anyway.
        self._routes: dict[str, list[tuple[str, APIRoute]]] = {}
        self._checks: dict[int, Check | None] = {}  # by id: a route is not hashable
        for route in routes:
            if isinstance(route, APIRoute):
                for method in route.methods or ():
                    self._routes.setdefault(method, []).append(
                        (route.path.partition("{")[0], route))

    def _limit_of(self, path: str) -> int | None:
        if _RAW_UPLOADS.match(path):
            return None
        return self.admin_limit if _ADMIN.match(path) else self.limit

    def _check(self, scope: Scope) -> Check | None:
        path = scope["path"]
        for start, route in self._routes.get(scope["method"], ()):
            if path.startswith(start) and route.matches(scope)[0] is Match.FULL:
                try:
                    check = self._checks[id(route)]
                except KeyError:
                    check = self._checks[id(route)] = _check_of(route)
                if check is not None:
                    scope["route"] = route  # the access log's template, if refused here
                return check
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                chunked = True
        if not length and not chunked:  # no body: nothing to guard
            await self.app(scope, receive, send)
            return
        limit = self._limit_of(scope["path"])
        if limit is not None and length is not None and length > limit:
            await _refuse(scope, send, _too_large(limit))
            return
        check = self._check(scope)
        if check is not None:
            try:
                await check(scope)
            except TidingsError as exc:
                await _refuse(scope, send, exc)
                return
        if limit is None:
            await self.app(scope, receive, send)
            return
        await _Guard(limit).run(self.app, scope, receive, send)


def _too_large(limit: int) -> TidingsError:
    return TidingsError(ErrorCode.REQUEST_TOO_LARGE,
                        f"request body over this route's limit of {limit} bytes")


async def _refuse(scope: Scope, send: Send, error: TidingsError) -> None:
    """Answer before (or instead of) reading the rest of the body; the
    connection closes after it, so its unread bytes are not parsed."""
    errors.note(scope, error)
    body = orjson.dumps({"error": error.to_dict()})
    await send({"type": "http.response.start", "status": error.http_status, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class _Guard:
    """Counts a streaming body's bytes; past the limit it answers 413 itself
    and tells the app the client went away (so nothing more is read)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen = 0
        self.refused = False
        self.started = False

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        async def guarded_receive() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.seen += len(message.get("body", b""))
                if self.seen > self.limit:
                    self.refused = True
                    if not self.started:
                        self.started = True
                        await _refuse(scope, send, _too_large(self.limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.refused:
                return  # our 413 is the answer
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        await app(scope, guarded_receive, guarded_send)
