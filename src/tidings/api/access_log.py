"""The access log and the REST metrics: one ``http_request`` line for every
REST request, refusals (401, 413) included (docs/logging.md), and the
request counters and durations by route template (tidings/metrics.py).

A plain ASGI middleware, outermost (``create_app``): it sees the status that
was sent, whoever sent it, and what the inner layers left in the scope: the
caller (``auth.IDENTITY_KEY``, ``admin.ADMIN_KEY``, ``operator.OPERATOR_KEY``), the error code
(``errors.ERROR_KEY``) and the matched route. Each request carries an id,
the client's ``X-Request-Id`` when it is a short plain token, else a new one;
the answer carries it back, so a client's report can be found in the log."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings import logs, metrics
from tidings.api import admin, auth, errors, operator
from tidings.domain.ids import Identity
from tidings.domain.operators import OperatorSession
from tidings.services.auth import AdminCaller

log = logs.get_logger("tidings.access")

_CLIENT_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
# Scrapes and health checks are logged at debug only: every few seconds each.
_QUIET = frozenset({"/metrics", "/healthz", "/livez", "/readyz"})


def request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _CLIENT_ID.match(value):
            return bytes(value)
    return secrets.token_hex(8).encode()


def _caller(scope: Scope) -> dict[str, Any]:
    identity = scope.get(auth.IDENTITY_KEY)
    if isinstance(identity, Identity):
        return {"app": identity.sdkappid, "user": identity.user_id}
    caller = scope.get(admin.ADMIN_KEY)
    if isinstance(caller, AdminCaller):
        return {"app": caller.sdkappid, "user": caller.actor}
    session = scope.get(operator.OPERATOR_KEY)
    if isinstance(session, OperatorSession):  # the operator API: no app
        return {"user": f"operator:{session.name}"}
    return {}


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        status = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, rid, status[0], time.perf_counter() - started)

    @staticmethod
    def _done(scope: Scope, rid: bytes, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None)
        if template is None:
            # A mounted app (/docs-assets) names its mount as the root path.
            mount = scope.get("root_path") if scope.get("endpoint") is not None else None
            template = f"{mount}/{{path}}" if mount else "unmatched"
        method = scope["method"]
        metrics.HTTP_REQUESTS.labels(method, template, str(status)).inc()
        metrics.HTTP_LATENCY.labels(template).observe(seconds)
        fields: dict[str, Any] = {
            "request_id": rid.decode(), "method": method, "route": template,
            "status": status, "duration_ms": round(seconds * 1000, 2), **_caller(scope)}
        if template == "unmatched":
            fields["path"] = scope["path"][:200]
        code = scope.get(errors.ERROR_KEY)
        if code is not None:
            fields["error"] = code
        client = scope.get("client")
        if client:
            fields["client"] = client[0]
        if template in _QUIET:
            log.debug("http_request", **fields)
        else:
            log.info("http_request", **fields)
