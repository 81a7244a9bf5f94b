"""The logs an operator reads (issue 17, point 2; docs/logging.md): an
``http_request`` line for every REST request, 401s included, with the
request id, the route's template, the status, the caller once known and the
error code; WebSocket sessions' ``ws_login`` and ``ws_closed`` lines; and
with ``TIDINGS_LOG_FORMAT=json`` every line of a ``tidings serve`` process,
uvicorn's own included, one JSON object."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from tests.support import Conn, Server


def _lines(server: Server, event: str, wait_for: str = "") -> list[str]:
    """The server's log lines of one event, once one of them holds
    ``wait_for`` (the server writes some lines after its answer), or after
    5 s whatever they hold."""
    deadline = time.monotonic() + 5
    while True:
        path = server.data_dir / "server.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        found = [line for line in text.splitlines() if f" {event}" in line]
        if any(wait_for in line for line in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_401_has_its_access_line_with_the_request_id_and_route(
        make_server: Any) -> None:
    server: Server = make_server(log_level="info")
    with server.http() as http:
        reply = http.get("/v1/conversations", headers={"X-Request-Id": "probe-401-a"})
        assert reply.status_code == 401
        assert reply.headers["x-request-id"] == "probe-401-a"
        # Refused before its body is read (api/limits.py): logged all the same.
        refused = http.post("/v1/messages", json={"conversation_id": "c2c_x"},
                            headers={"Authorization": "Bearer not-a-usersig",
                                     "X-Request-Id": "probe-401-b"})
        assert refused.status_code == 401
        # A request id that is not a short plain token is replaced.
        odd = http.get("/v1/conversations", headers={"X-Request-Id": "a b" * 40})
        assert odd.headers["x-request-id"] != "a b" * 40 and len(odd.headers["x-request-id"]) == 16

    [line] = _lines(server, "http_request", wait_for="probe-401-a")[:1]
    assert "request_id=probe-401-a" in line
    assert "INFO tidings.access: http_request" in line
    assert "method=GET" in line and "route=/v1/conversations" in line
    assert "status=401" in line and "error=70002" in line and "duration_ms=" in line
    assert "Traceback" not in (server.data_dir / "server.log").read_text()
    [line] = [x for x in _lines(server, "http_request", wait_for="probe-401-b")
              if "probe-401-b" in x]
    assert "method=POST" in line and "route=/v1/messages" in line and "status=401" in line
    assert "error=70003" in line or "error=70001" in line, line


def test_unknown_paths_and_the_docs_assets_have_their_own_templates(
        make_server: Any) -> None:
    server: Server = make_server(log_level="info")
    with server.http() as http:
        assert http.get("/no/such/page", headers={"X-Request-Id": "probe-404"}).status_code == 404
        assert http.get("/docs-assets/swagger-ui.css",
                        headers={"X-Request-Id": "probe-asset"}).status_code == 200
    [missing] = [x for x in _lines(server, "http_request", wait_for="probe-404")
                 if "probe-404" in x]
    assert "route=unmatched" in missing and "path=/no/such/page" in missing
    assert "status=404" in missing and "error=10010" in missing
    [asset] = [x for x in _lines(server, "http_request", wait_for="probe-asset")
               if "probe-asset" in x]
    assert "route=/docs-assets/{path}" in asset and "path=" not in asset


def test_a_text_record_is_one_line() -> None:
    """A library's message over several lines (alembic's migration titles)
    is one line of the text log; a traceback alone follows on its own lines."""
    import logging

    from tidings import logs

    record = logging.LogRecord("alembic.runtime.migration", logging.INFO, __file__, 1,
                               "Running upgrade 0001 -> 0002, Account state\non users.",
                               None, None)
    line = logs.formatter("text").format(record)
    assert "\n" not in line
    assert line.endswith("INFO alembic.runtime.migration: Running upgrade 0001 -> 0002, "
                         "Account state on users.")


def test_the_access_line_names_the_caller(make_server: Any) -> None:
    server: Server = make_server(log_level="info")
    app = server.create_app()
    with server.http(app, "carol") as http:
        assert http.get("/v1/conversations/c2c_dave/messages",
                        headers={"X-Request-Id": "probe-ok"}).status_code == 200
    [line] = [x for x in _lines(server, "http_request", wait_for="probe-ok") if "probe-ok" in x]
    assert "route=/v1/conversations/{conversation_id:path}/messages" in line
    assert f"app={app.sdkappid}" in line and "user=carol" in line and "status=200" in line
    assert "c2c_dave" not in line  # the template, not the path

    # An operator (the console): on the operator API, and acting on an app.
    password = server.create_operator("night-shift")
    token = httpx.post(f"{server.base_url}/v1/operator/sign-in", timeout=30, json={
        "name": "night-shift", "password": password}).json()["token"]
    for path, probe in (("/v1/operator/apps", "probe-op"), ("/v1/admin/stats", "probe-op-app")):
        httpx.get(f"{server.base_url}{path}", timeout=10, headers={
            "Authorization": f"Operator {token}", "Tidings-App": str(app.sdkappid),
            "X-Request-Id": probe})
    lines = _lines(server, "http_request", wait_for="probe-op-app")
    [listed] = [x for x in lines if "probe-op " in x + " "]
    [acted] = [x for x in lines if "probe-op-app" in x]
    assert "user=operator:night-shift" in listed and "app=" not in listed
    assert f"app={app.sdkappid}" in acted and "user=operator:night-shift" in acted


def test_tencent_v4_calls_are_logged_with_their_caller_and_error(make_server: Any) -> None:
    """Tencent's API answers every error with HTTP 200: the line still has
    the error's code, and the admin once known."""
    server: Server = make_server(log_level="info")
    app = server.create_app()
    path = "/v4/im_open_login_svc/account_import"
    with server.http() as http:
        for rid, sig in (("probe-v4-bad", "garbage"), ("probe-v4-ok", app.sig(app.admin))):
            reply = http.post(path, json={"UserID": "v4user"}, headers={"X-Request-Id": rid},
                              params={"sdkappid": app.sdkappid, "identifier": app.admin,
                                      "usersig": sig, "random": "1", "contenttype": "json"})
            assert reply.status_code == 200
    [bad] = [x for x in _lines(server, "http_request", wait_for="probe-v4-bad")
             if "probe-v4-bad" in x]
    assert "route=/v4/{service}/{name}" in bad and "status=200" in bad and "error=700" in bad
    [good] = [x for x in _lines(server, "http_request", wait_for="probe-v4-ok")
              if "probe-v4-ok" in x]
    assert f"app={app.sdkappid}" in good and f"user=user:{app.admin}" in good
    assert "error=" not in good


async def test_websocket_sessions_log_their_login_and_close(make_server: Any) -> None:
    server: Server = make_server(log_level="info")
    app = server.create_app()
    conn = await Conn.open(server)
    reply = await conn.request("login", {"sdkappid": app.sdkappid, "user_id": "erin",
                                         "usersig": app.sig("erin"),
                                         "device": {"platform": "web", "id": "tab-1"}})
    assert reply["ok"], reply
    await conn.close()
    refused = await Conn.open(server)
    bad = await refused.request("login", {"sdkappid": app.sdkappid, "user_id": "erin",
                                          "usersig": "garbage"})
    assert not bad["ok"]
    await refused.close()
    await asyncio.sleep(0.2)
    [login] = _lines(server, "ws_login ")
    assert f"app={app.sdkappid}" in login and "user=erin" in login
    assert "platform=web" in login and "device=tab-1" in login
    [closed] = _lines(server, "ws_closed", wait_for="user=erin")
    assert "user=erin" in closed and "code=1000" in closed and "by=client" in closed
    assert "duration_s=" in closed
    [refusal] = _lines(server, "ws_login_refused")
    assert "error=700" in refusal


@pytest.mark.parametrize("backend", ["sqlite"])  # the log's format, not the store
@pytest.mark.process_server("the log of a real `tidings serve` process, uvicorn's lines too")
def test_json_logs_are_one_object_a_line(make_server: Any) -> None:
    server: Server = make_server(log_level="info", log_format="json")
    reply = httpx.get(f"{server.base_url}/v1/conversations",
                      headers={"X-Request-Id": "probe-json"}, timeout=10)
    assert reply.status_code == 401
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while not any(d.get("request_id") == "probe-json" for d in found):
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(0.05)
        lines = (server.data_dir / "server.log").read_text().splitlines()
        found = [json.loads(line) for line in lines if line.strip()]
    for doc in found:
        assert {"timestamp", "level", "logger", "event"} <= set(doc), doc
    assert any(d["logger"].startswith("uvicorn") for d in found), found  # one format for all
    [access] = [d for d in found if d.get("request_id") == "probe-json"]
    assert access["event"] == "http_request" and access["status"] == 401
    assert access["route"] == "/v1/conversations" and access["error"] == 70002
    assert access["level"] == "info" and isinstance(access["duration_ms"], float)
