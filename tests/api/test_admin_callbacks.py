"""Callback settings through the admin API and the CLI, the deliveries view
and the test event: only for the admin's own app; bad input changes nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.app_server import AppServer, Reply, closed_port
from tests.support import App, Conn, Server, error_of, openapi_doc
from tidings.sdk import verify_callback


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    s = AppServer().start()
    yield s
    s.stop()


def admin(server: Server, app: App) -> httpx.Client:
    return server.http(app, app.admin)


def test_settings_through_the_admin_api(server: Server, app: App, other_app: App,
                                        app_server: AppServer) -> None:
    with admin(server, app) as http:
        assert error_of(http.get("/v1/admin/callbacks")) == (404, 10010)
        assert error_of(http.put("/v1/admin/callbacks", json={"token": "x" * 16})) == (
            400, 10002)  # turning callbacks on needs a URL
        put = http.put("/v1/admin/callbacks", json={"url": app_server.url})
        assert put.status_code == 200, put.text
        first = put.json()
        assert first["url"] == app_server.url and len(first["token"]) == 32
        assert first["format"] == "native" and first["timeout_ms"] == 2000
        assert first["failure_policy"] == "allow"
        # Every event on, those of this version at least.
        assert {"before_send", "after_send", "after_read", "after_recall", "state_change",
                "before_friend_add", "after_friend_add",
                "after_friend_delete"} <= set(first["events"])
        assert all(first["events"].values()), first["events"]
        changed = http.put("/v1/admin/callbacks", json={
            "format": "tencent", "events": {"state_change": False, "after_read": False},
            "timeout_ms": 500, "failure_policy": "block", "token": "tok-12345678"}).json()
        assert changed["url"] == app_server.url and changed["token"] == "tok-12345678"
        assert changed["events"]["state_change"] is False and changed["events"]["after_send"]
        assert (changed["format"], changed["timeout_ms"], changed["failure_policy"]) == (
            "tencent", 500, "block")
        again = http.put("/v1/admin/callbacks", json={"events": {"state_change": True}}).json()
        assert again["events"]["state_change"] is True and again["events"]["after_read"] is False
        assert http.get("/v1/admin/callbacks").json() == again

        for body in ({"url": "ftp://x.example"}, {"url": ""}, {"url": "http://"},
                     {"url": "http://a.example/" + "x" * 2100}, {"token": "short"},
                     {"token": "has space inside"}, {"format": "xml"}, {"timeout_ms": 50},
                     {"timeout_ms": 60_000}, {"timeout_ms": "2000"}, {"failure_policy": "maybe"},
                     {"events": {"nope": True}}, {"events": {"test": False}},
                     {"events": ["after_send"]}, {"unknown": 1}, {"url": 5}):
            reply = http.put("/v1/admin/callbacks", json=body)
            assert error_of(reply) == (400, 10002), (body, reply.text)
        assert error_of(http.put("/v1/admin/callbacks", content=b"{nope",
                                 headers={"Content-Type": "application/json"})) == (400, 90001)
        assert http.get("/v1/admin/callbacks").json() == again  # nothing changed

    # Another app's admin sees and changes only its own.
    with admin(server, other_app) as http:
        assert error_of(http.get("/v1/admin/callbacks")) == (404, 10010)
        assert error_of(http.delete("/v1/admin/callbacks")) == (404, 10010)
        assert http.get("/v1/admin/callbacks/deliveries").json() == {"deliveries": []}
        assert error_of(http.post("/v1/admin/callbacks/test")) == (404, 10010)
    with admin(server, app) as http:
        assert http.get("/v1/admin/callbacks").json() == again
        assert http.delete("/v1/admin/callbacks").json() == {"deleted": True}
        assert error_of(http.get("/v1/admin/callbacks")) == (404, 10010)
    # Not an admin: refused.
    with server.http(app, "alice") as http:
        assert error_of(http.get("/v1/admin/callbacks")) == (403, 90009)
    with httpx.Client(base_url=server.base_url) as http:
        assert error_of(http.put("/v1/admin/callbacks", json={"url": app_server.url})) == (
            401, 70002)


def test_test_event_and_deliveries(server: Server, app: App, app_server: AppServer) -> None:
    with admin(server, app) as http:
        token = http.put("/v1/admin/callbacks", json={"url": app_server.url}).json()["token"]
        result = http.post("/v1/admin/callbacks/test").json()
        assert result["ok"] is True and result["error"] == ""
        assert result["delivery"]["event"] == "test"
        assert result["delivery"]["status"] == "delivered"
        [call] = app_server.of("test")
        doc = verify_callback(token, call.body, call.headers["x-tidings-signature"])
        assert doc["event_id"] == result["delivery"]["event_id"]
        app_server.answer(lambda call: Reply(status=500))
        failed = http.post("/v1/admin/callbacks/test").json()
        assert failed["ok"] is False and failed["error"] == "HTTP 500"
        assert failed["delivery"]["status"] == "failed"
        listed = http.get("/v1/admin/callbacks/deliveries").json()["deliveries"]
        assert [d["status"] for d in listed[:2]] == ["failed", "delivered"]  # newest first
        only = http.get("/v1/admin/callbacks/deliveries", params={"status": "failed"}).json()
        assert [d["id"] for d in only["deliveries"]] == [failed["delivery"]["id"]]
        assert len(http.get("/v1/admin/callbacks/deliveries",
                            params={"limit": 1}).json()["deliveries"]) == 1
        for params in ({"status": "lost"}, {"limit": 0}, {"limit": 501}, {"limit": "x"}):
            assert error_of(http.get("/v1/admin/callbacks/deliveries", params=params)) == (
                400, 10002), params


async def test_settings_from_the_cli_reach_the_running_server(
        server: Server, app: App, app_server: AppServer) -> None:
    sdkappid = str(app.sdkappid)
    app_server.answer(lambda call: Reply(body={"action": "allow"}))
    out = json.loads(server.cli("app", "update", sdkappid, "--callback-url", app_server.url,
                                "--callback-token", "cli-token-123", "--callback-format",
                                "native", "--callback-disable", "state_change",
                                "--callback-disable", "after_read", "--callback-timeout",
                                "1500", "--callback-policy", "block").stdout)
    assert out["callbacks"]["url"] == app_server.url
    assert out["callbacks"]["token"] == "cli-token-123"
    assert out["callbacks"]["events"]["state_change"] is False
    assert out["callbacks"]["timeout_ms"] == 1500
    assert out["callbacks"]["failure_policy"] == "block"
    # The running server asks the app before sending, within the cache time.
    conn = await Conn.login(server, app, "alice")
    deadline = time.monotonic() + 10
    n = 0
    while not app_server.of("before_send"):
        assert time.monotonic() < deadline, "the server never used the CLI's settings"
        assert (await conn.send_text("c2c_bob", "hi", f"cli-{n}"))["ok"]
        n += 1
        await asyncio.sleep(0.1)
    await app_server.wait_for("after_send")
    await conn.close()

    shown = json.loads(server.cli("app", "callbacks", sdkappid, "--limit", "5").stdout)
    assert shown["callbacks"]["token"] == "cli-token-123"
    assert shown["deliveries"] and shown["deliveries"][0]["event"] == "after_send"
    tested = server.cli("app", "callback-test", sdkappid)
    assert json.loads(tested.stdout)["ok"] is True
    assert app_server.of("test")

    # Bad input: refused, non-zero, nothing changed.
    for args in (["--callback-url", "ftp://x"], ["--callback-format", "xml"],
                 ["--callback-timeout", "5"], ["--callback-enable", "nope"],
                 ["--callback-token", "x"], ["--no-callbacks", "--callback-format", "native"]):
        bad = server.cli("app", "update", sdkappid, *args, check=False)
        assert bad.returncode != 0 and "error" in bad.stderr, args
    assert server.cli("app", "update", "1", "--callback-url", app_server.url,
                      check=False).returncode == 2
    assert server.cli("app", "callbacks", sdkappid, "--status", "x", check=False).returncode == 1
    unchanged = json.loads(server.cli("app", "update", sdkappid).stdout)
    assert unchanged["callbacks"] == {**out["callbacks"],
                                      "updated_at": unchanged["callbacks"]["updated_at"]}

    # A URL nobody answers: the test says so (exit 1); turning callbacks off.
    server.cli("app", "update", sdkappid, "--callback-url",
               f"http://127.0.0.1:{closed_port()}/cb")
    failing = server.cli("app", "callback-test", sdkappid, check=False)
    assert failing.returncode == 1 and json.loads(failing.stdout)["ok"] is False
    off = json.loads(server.cli("app", "update", sdkappid, "--no-callbacks").stdout)
    assert off["callbacks"] is None
    assert server.cli("app", "callback-test", sdkappid, check=False).returncode == 2


def test_openapi_shows_the_callback_endpoints(server: Server) -> None:
    spec: dict[str, Any] = openapi_doc(server.base_url)
    paths = spec["paths"]
    assert set(paths["/v1/admin/callbacks"]) == {"get", "put", "delete"}
    assert "get" in paths["/v1/admin/callbacks/deliveries"]
    assert "post" in paths["/v1/admin/callbacks/test"]
    schemas = spec["components"]["schemas"]
    for name in ("CallbacksRequest", "CallbacksOut", "DeliveriesOut", "CallbackTestOut"):
        assert schemas[name]["examples"], name
    assert "forbid_callbacks" in schemas["AdminSendRequest"]["properties"]
