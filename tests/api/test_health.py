"""``GET /livez`` and ``GET /readyz`` (issue 15, operations; docs/rest.md):
unauthenticated, in the OpenAPI document, logged at debug only; ``/readyz``
names each part it checked and answers 503, naming what is not ready, once
the process drains (its devices told to reconnect elsewhere with 1012)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support import App, Conn, InProcessServer, Server, openapi_doc


async def _drain(services: Any) -> int:
    told: int = services.runtime.drain()
    return told


def test_livez_and_readyz_answer_without_credentials(server: Server) -> None:
    live = httpx.get(f"{server.base_url}/livez", timeout=10)
    assert (live.status_code, live.json()) == (200, {"status": "alive"})
    ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert (body["status"], body["not_ready"]) == ("ready", [])
    # One process alone: no Redis to check.
    assert body["checks"] == {"database": "ok", "migrations": "ok", "draining": "ok"}
    assert ready.headers["cache-control"] == "no-store"


def test_health_routes_are_in_the_openapi_document(server: Server) -> None:
    doc = openapi_doc(server.base_url)
    assert set(doc["paths"]["/livez"]) == {"get"}
    readyz = doc["paths"]["/readyz"]["get"]
    assert {"200", "503"} <= set(readyz["responses"])
    assert "security" not in readyz


async def test_a_draining_process_is_not_ready_and_sends_its_devices_away(
        make_server: Callable[..., Server], users: Callable[[str], str]) -> None:
    server = make_server()
    assert isinstance(server, InProcessServer)
    app: App = server.create_app("Drain")
    alice = users("alice")
    conn = await Conn.login(server, app, alice)
    told = server._call(_drain)
    assert told == 1
    code, reason = await conn.closed
    assert (code, reason) == (1012, "draining: reconnect now, to any node")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        ready = await http.get("/readyz")
        live = await http.get("/livez")
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert (body["status"], body["not_ready"]) == ("not_ready", ["draining"])
    assert body["checks"]["draining"].startswith("draining")
    assert body["checks"]["database"] == "ok"
    # Liveness is not readiness: the draining process is alive.
    assert live.status_code == 200


def test_probes_are_not_in_the_access_log_at_info(
        make_server: Callable[..., Server]) -> None:
    server = make_server(log_level="info")
    for path in ("/livez", "/readyz"):
        assert httpx.get(f"{server.base_url}{path}", timeout=10).status_code == 200
    marker = httpx.get(f"{server.base_url}/v1/no-such-route-health", timeout=10)
    assert marker.status_code == 404
    deadline = time.monotonic() + 5
    while "no-such-route-health" not in server.log_tail():  # written after the answer
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(0.05)
    log = server.log_tail()
    assert "/readyz" not in log and "/livez" not in log
