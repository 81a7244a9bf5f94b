"""The console's REST side (docs/console.md): operators sign in with a
password and act on any app; an app's API key acts on its own app only,
through every admin route; the app itself (name, icon, secret keys, API
keys) on the admin API. Bad input changes nothing."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.app_server import AppServer, closed_port
from tests.support import App, Conn, Server, error_of, openapi_doc


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def sign_in(server: Server, name: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/operator/sign-in",
                      json={"name": name, "password": password}, timeout=30)


def operator(server: Server) -> httpx.Client:
    """A signed-in operator's client."""
    name = unique("ops")
    reply = sign_in(server, name, server.create_operator(name))
    assert reply.status_code == 200, reply.text
    return httpx.Client(base_url=server.base_url, timeout=10,
                        headers={"Authorization": f"Operator {reply.json()['token']}"})


def api_key(server: Server, app: App) -> str:
    with server.http(app, app.admin) as http:
        made = http.post("/v1/admin/app/api-keys", json={"name": "console"})
    assert made.status_code == 201, made.text
    return str(made.json()["key"])


def test_an_operator_signs_in_sees_every_app_creates_one_and_signs_out(
        server: Server, app: App, other_app: App) -> None:
    name = unique("ops")
    password = server.create_operator(name)
    assert error_of(sign_in(server, name, "not the password")) == (401, 96100)
    assert error_of(sign_in(server, unique("nobody"), password)) == (401, 96100)
    assert error_of(sign_in(server, "NO", password)) == (401, 96100)  # not even a name
    reply = sign_in(server, name.upper(), password)  # names are case-insensitive
    assert reply.status_code == 200, reply.text
    token = reply.json()["token"]
    assert reply.json()["name"] == name and token.startswith("tdo_")
    http = httpx.Client(base_url=server.base_url, timeout=10,
                        headers={"Authorization": f"Operator {token}"})
    assert http.get("/v1/operator/me").json()["name"] == name
    listed = {a["sdkappid"]: a for a in http.get("/v1/operator/apps").json()["apps"]}
    assert {app.sdkappid, other_app.sdkappid} <= set(listed)
    assert "keys" not in listed[app.sdkappid]  # keys only per app, on the admin API

    before = len(listed)
    for body in ({"name": " "}, {"name": "x" * 65}, {"name": "A", "icon_url": "javascript:x"},
                 {"name": "A", "admin": ""}, {"name": "A", "admin": "x" * 33},
                 {"name": "A", "extra": 1}, {"name": 5}):
        assert error_of(http.post("/v1/operator/apps", json=body))[0] == 400, body
    assert len(http.get("/v1/operator/apps").json()["apps"]) == before  # nothing made
    made = http.post("/v1/operator/apps", json={"name": "Made by ops",
                                                "icon_url": "https://x.example/i.png"})
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["name"] == "Made by ops" and created["admins"] == ["administrator"]
    assert [k["secret_key"] for k in created["keys"]] == [created["secret_key"]]
    new_app = App(created["sdkappid"], created["secret_key"], "administrator")
    with server.http(new_app, "administrator") as admin:  # the key signs UserSigs at once
        assert admin.get("/v1/admin/app").json()["name"] == "Made by ops"

    assert http.post("/v1/operator/sign-out").json() == {"signed_out": True}
    assert error_of(http.get("/v1/operator/me")) == (401, 96102)
    assert error_of(http.get("/v1/operator/apps")) == (401, 96102)
    assert error_of(http.get("/v1/admin/accounts",
                             headers={"Tidings-App": str(app.sdkappid)})) == (401, 96102)
    http.close()


def test_an_operator_acts_on_the_app_it_names(server: Server, app: App,
                                              other_app: App) -> None:
    with operator(server) as http:
        imported = http.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": "made-by-operator"}]}, headers={"Tidings-App": str(app.sdkappid)})
        assert imported.status_code == 200, imported.text
        assert error_of(http.get("/v1/admin/accounts")) == (400, 10002)  # which app?
        assert error_of(http.get("/v1/admin/accounts",
                                 headers={"Tidings-App": "nope"})) == (400, 10002)
        assert error_of(http.get("/v1/admin/accounts",
                                 headers={"Tidings-App": "1000"})) == (401, 70020)

        def users(sdkappid: int) -> list[str]:
            found = http.get("/v1/admin/accounts", headers={"Tidings-App": str(sdkappid)})
            return [a["user_id"] for a in found.json()["users"]]

        assert "made-by-operator" in users(app.sdkappid)
        assert "made-by-operator" not in users(other_app.sdkappid)


def test_password_tries_lock_the_name_out(server: Server) -> None:
    name = unique("ops")
    password = server.create_operator(name)
    for _ in range(5):
        assert error_of(sign_in(server, name, "wrong password!")) == (401, 96100)
    locked = sign_in(server, name, password)  # even the right one, while locked
    assert error_of(locked) == (429, 96101)
    assert locked.json()["error"]["retry_after"] > 0
    # A name that does not exist locks the same: the answer tells nothing.
    ghost = unique("ghost")
    replies = [sign_in(server, ghost, "wrong password!") for _ in range(6)]
    assert [error_of(r)[1] for r in replies] == [96100] * 5 + [96101]


def _admin_routes(server: Server) -> list[tuple[str, str]]:
    doc = openapi_doc(server.base_url)
    found = []
    for path, item in doc["paths"].items():
        if path.startswith("/v1/admin"):
            found += [(method.upper(), re.sub(r"\{[^}]+\}", "1", path)) for method in item]
    return found


def test_an_app_key_reaches_no_other_app_through_any_admin_route(
        server: Server, app: App, other_app: App) -> None:
    key = api_key(server, app)
    routes = _admin_routes(server)
    assert len(routes) > 50, routes  # the whole admin API, not a sample
    with httpx.Client(base_url=server.base_url, timeout=10,
                      headers={"Authorization": f"ApiKey {key}",
                               "Tidings-App": str(other_app.sdkappid)}) as http:
        for method, path in routes:
            reply = http.request(method, path, json={})
            assert error_of(reply) == (403, 96103), (method, path, reply.text)
        # Nor is it an operator's credential.
        for method, path in (("GET", "/v1/operator/apps"), ("GET", "/v1/operator/me"),
                             ("POST", "/v1/operator/apps")):
            assert error_of(http.request(method, path, json={"name": "x"})) == (401, 96102)
    # Its own app it reaches, naming it or not.
    for headers in ({}, {"Tidings-App": str(app.sdkappid)}):
        reply = httpx.get(f"{server.base_url}/v1/admin/app", timeout=10,
                          headers={"Authorization": f"ApiKey {key}", **headers})
        assert reply.json()["sdkappid"] == app.sdkappid
    # An admin's UserSig is held to its app the same way.
    with server.http(app, app.admin) as http:
        assert error_of(http.get("/v1/admin/app", headers={
            "Tidings-App": str(other_app.sdkappid)})) == (403, 96103)


def test_the_app_its_keys_and_api_keys_on_the_admin_api(server: Server, app: App) -> None:
    with server.http(app, app.admin) as http:
        shown = http.get("/v1/admin/app").json()
        assert shown["sdkappid"] == app.sdkappid
        assert [k["secret_key"] for k in shown["keys"]] == [app.secret_key]

        for body in ({"name": ""}, {"name": "  "}, {"icon_url": "data:image/png;base64,x"},
                     {"icon_url": "http://x.example/i.png"},
                     {"icon_url": "https://x.example/" + "i" * 600}, {"sdkappid": 1}):
            assert error_of(http.patch("/v1/admin/app", json=body))[0] == 400, body
        assert http.get("/v1/admin/app").json() == shown  # nothing changed
        patched = http.patch("/v1/admin/app", json={"name": "ShopX Pro",
                                                    "icon_url": "https://x.example/i.png"})
        assert (patched.json()["name"], patched.json()["icon_url"]) == (
            "ShopX Pro", "https://x.example/i.png")

        added = http.post("/v1/admin/app/keys")
        assert added.status_code == 201, added.text
        new_key = added.json()["secret_key"]
        assert len(new_key) == 64 and new_key != app.secret_key
    # Both keys sign while rotating; after retire-old only the new one.
    rotated = App(app.sdkappid, new_key, app.admin)
    with server.http(rotated, app.admin) as http:
        assert http.get("/v1/admin/app").status_code == 200
        assert http.post("/v1/admin/app/keys/retire-old").json() == {"retired": 1}
        keys = http.get("/v1/admin/app").json()["keys"]
        assert [k["retired_at"] is None for k in keys] == [False, True]
    with server.http(app, app.admin) as http:
        assert error_of(http.get("/v1/admin/app")) == (401, 70009)
    app.secret_key = new_key

    with server.http(app, app.admin) as http:
        made = http.post("/v1/admin/app/api-keys", json={"name": "ci"}).json()
        assert made["key"].startswith(f"tdk_{app.sdkappid}_") and made["name"] == "ci"
        listed = http.get("/v1/admin/app/api-keys").json()["api_keys"]
        assert made["id"] in [k["id"] for k in listed]
        assert all("key" not in k for k in listed)  # only the prefix, ever again
        assert error_of(http.post("/v1/admin/app/api-keys", json={"name": "x" * 65}))[0] == 400
        assert error_of(http.delete("/v1/admin/app/api-keys/999999")) == (404, 10010)
        with httpx.Client(base_url=server.base_url, timeout=10,
                          headers={"Authorization": f"ApiKey {made['key']}"}) as keyed:
            assert keyed.get("/v1/admin/app").status_code == 200
            assert http.delete(f"/v1/admin/app/api-keys/{made['id']}").json() == {
                "revoked": True}
            assert error_of(keyed.get("/v1/admin/app")) == (401, 70030)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_operator_command(make_server: Any) -> None:
    server = make_server()
    made = server.cli("operator", "create", "Night-Shift")
    doc: dict[str, Any] = __import__("json").loads(made.stdout)
    assert doc["name"] == "night-shift" and len(doc["password"]) >= 20
    assert sign_in(server, "night-shift", doc["password"]).status_code == 200
    again = server.cli("operator", "create", "night-shift", check=False)
    assert again.returncode != 0 and "night-shift" in again.stderr
    weak = server.cli("operator", "create", "other-op", "--password-stdin", check=False)
    assert weak.returncode != 0  # an empty password from an empty stdin
    listed = __import__("json").loads(server.cli("operator", "list").stdout)
    assert [o["name"] for o in listed] == ["night-shift"]


def test_figures_over_time(server: Server, app: App) -> None:
    hooks = AppServer().start()
    try:
        with server.http(app, app.admin) as http:
            http.post("/v1/admin/accounts/import", json={"accounts": [
                {"user_id": "fig-a"}, {"user_id": "fig-b"}]})
            for i in range(3):
                sent = http.post("/v1/admin/messages", json={
                    "from": "fig-a", "conversation_id": "c2c_fig-b", "client_msg_id": f"f{i}",
                    "elements": [{"type": "text", "text": f"hi {i}"}]})
                assert sent.status_code == 200, sent.text
            http.put("/v1/admin/callbacks", json={"url": hooks.url})
            assert http.post("/v1/admin/callbacks/test").json()["ok"] is True
            http.put("/v1/admin/callbacks", json={"url": f"http://127.0.0.1:{closed_port()}/x"})
            assert http.post("/v1/admin/callbacks/test").json()["ok"] is False

            series = http.get("/v1/admin/app/series", params={"minutes": 120, "step": 60})
            assert series.status_code == 200, series.text
            doc = series.json()
            points = doc["points"]
            assert len(points) == 2 and doc["step_ms"] == 3_600_000
            assert [p["at"] for p in points] == [doc["since"], doc["since"] + 3_600_000]
            assert sum(p["messages"] for p in points) == 3
            assert sum(p["callbacks_failed"] for p in points) >= 1
            assert sum(p["callbacks_delivered"] for p in points) >= 1
            assert any(p["callback_latency_ms"] is not None for p in points)
            for params in ({"minutes": 10, "step": 20}, {"minutes": 10_080, "step": 1},
                           {"minutes": 0}, {"minutes": 10_081}, {"step": 0}):
                assert error_of(http.get("/v1/admin/app/series", params=params))[0] == 400
    finally:
        hooks.stop()


async def test_connections_and_active_users_over_time(make_server: Any) -> None:
    """The sampler's rows (every figures_interval) reach the series."""
    server = make_server(figures_interval="0.2")
    app = server.create_app()
    conn = await Conn.login(server, app, "live-one")
    try:
        with server.http(app, app.admin) as http:
            deadline = time.monotonic() + 30
            while True:
                points = http.get("/v1/admin/app/series",
                                  params={"minutes": 2, "step": 1}).json()["points"]
                if max(p["connections"] for p in points) >= 1:
                    break
                assert time.monotonic() < deadline, points
                await asyncio.sleep(0.2)
            # The admin's own UserSig counts as an active user too (a ticket checked).
            assert max(p["active_users"] for p in points) >= 1
            assert len(points) == 2  # two one-minute steps
    finally:
        await conn.close()
    # Another app sees none of it.
    other = server.create_app("Other")
    with server.http(other, other.admin) as http:
        points = http.get("/v1/admin/app/series", params={"minutes": 2, "step": 1}).json()
        assert all(p["connections"] == 0 for p in points["points"])


def test_an_operator_lists_its_sign_ins_and_signs_one_out(server: Server) -> None:
    """``GET /v1/operator/sessions``: one's own live sign-ins, this one
    marked; ``DELETE /v1/operator/sessions/{id}`` ends another (its token is
    refused at once) and refuses an id that is not one's own."""
    name = unique("ops")
    password = server.create_operator(name)
    tokens = [sign_in(server, name, password).json()["token"] for _ in range(2)]
    other = operator(server)  # another operator's sign-in: never listed here
    here, there = (httpx.Client(base_url=server.base_url, timeout=10,
                                headers={"Authorization": f"Operator {t}"}) for t in tokens)
    with here, there, other:
        listed = here.get("/v1/operator/sessions").json()["sessions"]
        assert sorted(s["current"] for s in listed) == [False, True]
        [away] = [s for s in listed if not s["current"]]
        assert all(len(s["id"]) == 16 and s["client_ip"] and s["expires_at"] > s["created_at"]
                   for s in listed)
        assert not any(t in str(listed) for t in tokens)
        theirs = other.get("/v1/operator/sessions").json()["sessions"]
        assert len(theirs) == 1 and theirs[0]["current"]
        assert error_of(here.delete(f"/v1/operator/sessions/{theirs[0]['id']}")) == (404, 10010)
        assert error_of(here.delete("/v1/operator/sessions/x")) == (404, 10010)
        assert other.get("/v1/operator/me").status_code == 200

        ended = here.delete(f"/v1/operator/sessions/{away['id']}")
        assert ended.json() == {"signed_out": True}
        assert error_of(there.get("/v1/operator/me")) == (401, 96102)
        assert [s["current"] for s in here.get("/v1/operator/sessions").json()["sessions"]] == [
            True]
        assert error_of(there.get("/v1/operator/sessions")) == (401, 96102)
