"""Broadcasts and operational figures: one message to every account of the
app (live to those online, synced by the rest, once each, resumed after a
kill -9), idempotent by client id; the figures count what happened today;
neither reaches another app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import App, Conn, Server, error_of, openapi_doc

Users = Callable[[str], str]
TEXT = [{"type": "text", "text": "maintenance at 02:00 UTC"}]


def admin(server: Server, app: App) -> httpx.Client:
    return server.http(app, app.admin)


def import_many(http: httpx.Client, user_ids: list[str]) -> None:
    for i in range(0, len(user_ids), 100):
        reply = http.post("/v1/admin/accounts/import", json={
            "accounts": [{"user_id": u} for u in user_ids[i:i + 100]]})
        assert reply.status_code == 200, reply.text


def start(http: httpx.Client, sender: str, client_msg_id: str,
          elements: list[dict[str, Any]] = TEXT) -> httpx.Response:
    return http.post("/v1/admin/broadcasts", json={
        "from": sender, "client_msg_id": client_msg_id, "elements": elements})


def finished(http: httpx.Client, broadcast_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, Any] = http.get(f"/v1/admin/broadcasts/{broadcast_id}").json()
        if got["state"] != "running" or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def stats(server: Server, app: App) -> dict[str, Any]:
    with admin(server, app) as http:
        reply = http.get("/v1/admin/stats")
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()
    return found


async def test_broadcast_reaches_everyone_once(server: Server, app: App,
                                               users: Users) -> None:
    shop = users("shop")
    people = sorted(users(f"u{i:04d}") for i in range(1203))
    online, offline = people[700], people[5]
    with admin(server, app) as http:
        import_many(http, [shop, *people])
        # A deleted account gets nothing.
        assert http.post("/v1/admin/accounts/delete",
                         json={"user_ids": [people[-1]]}).status_code == 200
    phone = await Conn.login(server, app, online)
    with admin(server, app) as http:
        reply = start(http, shop, "maint-1")
        assert reply.status_code == 202, reply.text
        job = reply.json()
        assert job["state"] == "running" and job["from"] == shop and not job["duplicate"]
        # The 701st of ~1,200 sends: give a loaded machine time (a liveness
        # bound, not a speed target).
        live = await phone.event("message", timeout=60)
        assert live["sender"] == shop and live["elements"] == TEXT
        assert live["conversation_id"] == f"c2c_{shop}"
        done = await asyncio.to_thread(finished, http, job["broadcast_id"])
        assert done["state"] == "done", done
        assert (done["sent"], done["skipped"]) == (len(people) - 1, 0)
        assert done["finished_at"] >= done["created_at"]
        # Again with the same id: the same broadcast, nothing sent twice.
        again = start(http, shop, "maint-1")
        assert again.status_code == 202 and again.json()["duplicate"] is True
        assert again.json()["broadcast_id"] == job["broadcast_id"]
        assert error_of(start(http, shop, "maint-1", [{"type": "text", "text": "other"}])
                        ) == (409, 10012)
        listed = http.get("/v1/admin/broadcasts").json()["broadcasts"]
        assert [b["broadcast_id"] for b in listed] == [job["broadcast_id"]]
        history = http.get(f"/v1/admin/conversations/{offline}/c2c_{shop}/messages").json()
        assert [m["elements"] for m in history["messages"]] == [TEXT]
        gone = http.get(f"/v1/admin/conversations/{people[-1]}/c2c_{shop}/messages").json()
        assert gone["messages"] == []
    await phone.no_event("message")
    # An offline user finds it on sync, once.
    later = await Conn.login(server, app, offline)
    synced = later.last_sync
    convs = [c for c in synced["conversations"] if c["conversation_id"] == f"c2c_{shop}"]
    assert len(convs) == 1 and convs[0]["unread"] == 1
    await phone.close()
    await later.close()
    figures = stats(server, app)
    assert figures["messages_today"] == len(people) - 1
    # shop, the people but the deleted one, and the admin account that called.
    assert figures["registered_users"] == len(people) + 1


def test_broadcast_refusals(server: Server, shared_app: App, other_app: App,
                            users: Users) -> None:
    shop, alice = users("shop"), users("alice")
    with admin(server, shared_app) as http:
        import_many(http, [shop, alice])
        assert error_of(start(http, "", "x")) == (400, 10008)
        assert error_of(start(http, shop, "")) == (400, 10002)
        assert error_of(start(http, shop, "x", [])) == (400, 90002)
        assert error_of(http.post("/v1/admin/broadcasts", content=b"{nope",
                                  headers={"Content-Type": "application/json"})) == (400, 90001)
        assert error_of(http.get("/v1/admin/broadcasts/999999999")) == (404, 10010)
        assert http.post(f"/v1/admin/accounts/{shop}/disable").status_code == 200
        assert error_of(start(http, shop, "y")) == (403, 70051)
        assert http.post(f"/v1/admin/accounts/{shop}/enable").status_code == 200
        job = start(http, shop, users("z")).json()
        assert finished(http, job["broadcast_id"])["state"] == "done"
    # Another app's admin sees none of it, and its own broadcast stays its own.
    with admin(server, other_app) as http:
        assert error_of(http.get(f"/v1/admin/broadcasts/{job['broadcast_id']}")
                        ) == (404, 10010)
        assert job["broadcast_id"] not in [
            b["broadcast_id"] for b in http.get("/v1/admin/broadcasts").json()["broadcasts"]]


@pytest.mark.process_server("kill -9: only a process can be killed mid-write")
def test_broadcast_resumes_after_kill9(make_server: Callable[..., Server],
                                       users: Users) -> None:
    # After the kill the job waits out its dead walker's lease (15 s by
    # default) before it is taken up again: most of this test's time.
    server = make_server(cluster_broadcast_lease="3")
    app = server.create_app()
    shop = users("shop")
    # Four pages of 500 (services/broadcasts.py): killed after the first,
    # with three to resume; 8,000 took 23 s of CI on PostgreSQL for nothing
    # more.
    people = [users(f"u{i:05d}") for i in range(2000)]
    with admin(server, app) as http:
        import_many(http, [shop, *people])
        job = start(http, shop, "big").json()
        # Killed once some pages are done and others are not.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = http.get(f"/v1/admin/broadcasts/{job['broadcast_id']}").json()
            if got["sent"] >= 500 or got["state"] != "running":
                break
        assert got["state"] == "running" and 0 < got["sent"] < len(people), got
    server.kill9()
    server.start()
    with admin(server, app) as http:
        done = finished(http, job["broadcast_id"])
    assert done["state"] == "done" and done["sent"] == len(people), done
    # Each recipient has it exactly once: as many messages as people.
    assert stats(server, app)["messages_today"] == len(people)


async def test_figures_count_today(server: Server, app: App, users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    with admin(server, app) as http:
        import_many(http, [alice, bob, carol])
    before = stats(server, app)
    # The three, and the admin account that imported them.
    assert before["registered_users"] == 4 and before["messages_today"] == 0
    assert before["connections_now"] == 0
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert before["day"] == day or before["day"] < day  # the day may have just turned
    one = await Conn.login(server, app, alice)
    two = await Conn.login(server, app, alice)
    three = await Conn.login(server, app, bob)
    for _ in range(3):
        assert (await one.send_text(f"c2c_{bob}", "hi"))["ok"]
    after = stats(server, app)
    assert after["connections_now"] == 3
    assert after["messages_today"] == 3
    # alice and bob logged in; carol did not; the admin's own calls count it.
    assert after["active_users_today"] - before["active_users_today"] == 2
    for conn in (one, two, three):
        await conn.close()
    for _ in range(100):  # the server notices closed sockets within moments
        if (left := stats(server, app)["connections_now"]) == 0:
            break
        await asyncio.sleep(0.05)
    assert left == 0


def test_openapi_describes_profiles_broadcasts_and_figures(server: Server) -> None:
    spec = openapi_doc(server.base_url)
    admin_paths = {"/v1/admin/profiles/get", "/v1/admin/profiles/{user_id}",
                   "/v1/admin/broadcasts", "/v1/admin/broadcasts/{broadcast_id}",
                   "/v1/admin/stats"}
    assert admin_paths <= set(spec["paths"])
    for path in admin_paths:
        for op in spec["paths"][path].values():
            assert op["security"] == [{"AdminUserSig": []}, {"ApiKey": []}, {"Operator": []}], path
    assert {"/v1/profile", "/v1/profiles/get"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    for name in ("ProfilePatch", "ProfileView", "ProfilesReply", "AdminBroadcastRequest",
                 "BroadcastOut", "StatsOut"):
        assert schemas[name].get("examples") or any(
            "examples" in prop for prop in schemas[name].get("properties", {}).values()), name
