"""``GET /metrics``: the process's Prometheus metrics (tidings/metrics.py),
with what a scrape reads for itself: logged-in sessions, and the depth and
the oldest row's age of the durable queues (after-callbacks, push).

Who may read them (docs/operations.md, "Metrics"): with
``TIDINGS_METRICS_TOKEN`` set, whoever sends it as a bearer token; without,
only a peer on the loopback interface whose request no proxy forwarded (a
reverse proxy on the same host adds ``X-Forwarded-For`` or ``Forwarded``),
so a proxy in front of the server does not publish them by mistake."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from tidings import metrics
from tidings.api.auth import runtime_of
from tidings.api.errors import error_response
from tidings.api.routers import api_router
from tidings.domain.errors import ErrorCode, TidingsError

router = api_router()

_FORWARDED = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(request: Request, token: str) -> TidingsError | None:
    """Why this request may not read the metrics (None: it may)."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode()):
            return None
        return TidingsError(ErrorCode.API_KEY_INVALID,
                            "send 'Authorization: Bearer <TIDINGS_METRICS_TOKEN>'")
    peer = request.client.host if request.client is not None else ""
    forwarded = any(name in _FORWARDED for name, _ in request.scope["headers"])
    if _loopback(peer) and not forwarded:
        return None
    return TidingsError(ErrorCode.NOT_ADMIN, "the metrics are open to loopback peers only; "
                        "set TIDINGS_METRICS_TOKEN to read them from elsewhere")


@router.get("/metrics", include_in_schema=False)
async def metrics_page(request: Request) -> Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    if not settings.metrics_enabled:
        return error_response(TidingsError(ErrorCode.NOT_FOUND, "metrics are off"))
    refused = refusal(request, settings.metrics_token)
    if refused is not None:
        return error_response(refused)
    metrics.LOGGED_IN.set(runtime.bus.connection_count())
    for queue, (depth, age) in (await runtime.stats.queues()).items():
        metrics.QUEUE_DEPTH.labels(queue).set(depth)
        metrics.QUEUE_AGE.labels(queue).set(age)
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
