"""Live groups (AVChatRoom) over the WebSocket and REST: creation by a user,
the app's admin and the v4 API; online-only membership per connection (and
what a reconnect means); fan-out from memory with nothing stored; the
per-room rate with priority shedding; and the refusals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.api.test_tencent_v4 import v4
from tests.conftest import BACKENDS, database_url
from tests.gateway.test_changes import _code as code
from tests.gateway.test_history import _ok as ok
from tests.pg import Cluster
from tests.support import App, Conn, InProcessServer, Server, error_of

Users = Callable[[str], str]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, pg_cluster: Cluster | None,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose rooms take 10 messages a second (shedding shows fast)."""
    s = InProcessServer(tmp_path_factory.mktemp("live"),
                        database_url(str(request.param), pg_cluster),
                        {"TIDINGS_LIVE_ROOM_RATE": "10"})
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def app(server: Server) -> App:
    return server.create_app("Live")


@pytest.fixture(scope="module")
def other_app(server: Server) -> App:
    return server.create_app("Other")


def gid() -> str:
    return f"live-{uuid.uuid4().hex[:10]}"


def text(i: object, priority: str = "Normal", group: str = "") -> dict[str, Any]:
    return {"group_id": group, "client_msg_id": uuid.uuid4().hex, "priority": priority,
            "elements": [{"type": "text", "text": str(i)}]}


async def test_live_room_membership_fan_out_and_nothing_stored(
        server: Server, app: App, users: Users) -> None:
    alice, bob, carol, dave = users("alice"), users("bob"), users("carol"), users("dave")
    o = await Conn.login(server, app, alice)
    g = gid()
    made = await ok(o, "group_create", {"type": "AVChatRoom", "group_id": g, "name": "Show"})
    assert made == {"group_id": g, "type": "AVChatRoom", "member_count": 0}
    assert await code(o, "group_create", {"type": "AVChatRoom", "group_id": gid(),
                                          "members": [bob]}) == 10002
    b = await Conn.login(server, app, bob)
    b2 = await Conn.login(server, app, bob)  # bob's second connection does not join
    c = await Conn.login(server, app, carol)
    d = await Conn.login(server, app, dave)
    for conn in (o, b, c):
        joined = await ok(conn, "live_join", {"group_id": g})
        assert joined["group_id"] == g
    assert joined["member_count"] == 3
    info = await ok(d, "group_info", {"group_id": g})
    assert (info["type"], info["member_count"], info["owner"]) == ("AVChatRoom", 3, alice)
    listed = await ok(b, "live_members", {"group_id": g, "limit": 2})
    assert (listed["member_count"], listed["more"], len(listed["members"])) == (3, True, 2)
    # A message reaches the room's other connections, from memory.
    sent = await ok(b, "live_send", text("hello room", group=g))
    assert sent["priority"] == "Normal" and sent["msg_id"] and sent["time"] > 0
    for conn in (o, c):
        got = await conn.event("live_message")
        assert (got["sender"], got["group_id"], got["elements"], got["conversation_id"]) == (
            bob, g, [{"type": "text", "text": "hello room"}], f"group_{g}")
        assert got["msg_id"] == sent["msg_id"]
    await b.no_event("live_message")
    await b2.no_event("live_message")
    await d.no_event("live_message")
    # Not stored: no rows, no conversation, no history, no sync entries.
    stored = await server.sql(
        "SELECT count(*) FROM messages m JOIN groups g ON g.conversation_id ="
        " m.conversation_id WHERE g.group_id = :g", g=g)
    assert stored == 0
    members = await server.sql(
        "SELECT count(*) FROM conversation_members m JOIN groups g ON g.conversation_id ="
        " m.conversation_id WHERE g.group_id = :g", g=g)
    assert members == 0
    assert f"group_{g}" not in {x["conversation_id"] for x in
                                (await ok(c, "conversations", {}))["conversations"]}
    assert await code(c, "history", {"conversation_id": f"group_{g}"}) == 10011
    # Refusals: not joined on this connection, the stored-message paths, other ops.
    assert await code(d, "live_send", text("x", group=g)) == 10011
    assert await code(b2, "live_send", text("x", group=g)) == 10011
    assert await code(b, "send", {"conversation_id": f"group_{g}", "client_msg_id": "s1",
                                  "elements": [{"type": "text", "text": "x"}]}) == 10002
    assert await code(d, "group_join", {"group_id": g}) == 10007
    assert await code(o, "group_invite", {"group_id": g, "user_ids": [dave]}) == 10007
    assert await code(b, "group_leave", {"group_id": g}) == 10007
    assert await code(d, "live_join", {"group_id": gid()}) == 10010
    assert await code(b, "live_send", {**text("x", group=g), "priority": "Urgent"}) == 10002
    assert await code(b, "live_send", {**text("x", group=g), "elements": []}) == 90002
    assert await code(b, "live_send", {**text("x", group=g), "elements": [
        {"type": "text", "text": "x" * 13000}]}) == 80002
    assert await code(d, "live_leave", {"group_id": g}) == 10011
    work = gid()
    await ok(o, "group_create", {"type": "Work", "group_id": work})
    assert await code(o, "live_join", {"group_id": work}) == 10002
    # Membership is per connection: carol's connection closes, she is out;
    # reconnected she is not in until she joins again.
    await c.close()
    for _ in range(50):
        if (await ok(o, "live_members", {"group_id": g}))["member_count"] == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted((await ok(o, "live_members", {"group_id": g}))["members"]) == sorted(
        [alice, bob])
    c = await Conn.login(server, app, carol)
    assert await code(c, "live_send", text("x", group=g)) == 10011
    await ok(c, "live_join", {"group_id": g})
    await ok(o, "live_send", text("welcome back", group=g))
    assert (await c.event("live_message"))["elements"][0]["text"] == "welcome back"
    # Leaving: no more messages.
    await ok(c, "live_leave", {"group_id": g})
    await ok(o, "live_send", text("after", group=g))
    assert [(await b.event("live_message"))["elements"][0]["text"] for _ in range(2)] == [
        "welcome back", "after"]
    await c.no_event("live_message")
    # The owner changes the profile (no entry stored) and disbands: the room closes.
    await ok(o, "group_update", {"group_id": g, "name": "Show 2"})
    assert (await ok(d, "group_info", {"group_id": g}))["name"] == "Show 2"
    await ok(o, "group_disband", {"group_id": g})
    closed = await b.event("live_closed")
    assert (closed["group_id"], closed["reason"]) == (g, "disbanded")
    assert await code(b, "live_send", text("x", group=g)) == 10011
    for conn in (o, b, b2, c, d):
        await conn.close()


async def test_over_the_rate_low_goes_first_then_normal_and_high_is_kept(
        server: Server, app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    o = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    g = gid()
    await ok(o, "group_create", {"type": "AVChatRoom", "group_id": g})
    await ok(o, "live_join", {"group_id": g})
    await ok(b, "live_join", {"group_id": g})

    async def burst(priority: str, n: int) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(o.request("live_send", text(i, priority, g))
                                           for i in range(n))))

    low = await burst("Low", 30)
    normal = await burst("Normal", 30)
    high = await burst("High", 30)
    low_ok = sum(r["ok"] for r in low)
    normal_ok = sum(r["ok"] for r in normal)
    # The room takes 10 a second with one second's burst: Low stops at half
    # the bucket, Normal takes what is left, High always passes.
    assert 1 <= low_ok < 30 and 1 <= normal_ok < 30, (low_ok, normal_ok)
    assert all(r["ok"] for r in high)
    shed = [r for r in low + normal if not r["ok"]]
    assert {r["error"]["code"] for r in shed} == {94060}
    assert {r["error"]["priority"] for r in shed} <= {"Low", "Normal"}
    assert "High" in shed[0]["error"]["message"]
    # Exactly what was accepted was delivered.
    got = []
    for _ in range(low_ok + normal_ok + 30):
        got.append(await b.event("live_message"))
    assert [m["priority"] for m in got].count("High") == 30
    await b.no_event("live_message")
    for conn in (o, b):
        await conn.close()


async def test_live_groups_by_admin_rest_and_v4(server: Server, app: App, other_app: App,
                                                users: Users) -> None:
    alice = users("alice")
    admin = server.http(app, app.admin)
    g = gid()
    made = admin.post("/v1/admin/groups", json={"type": "AVChatRoom", "group_id": g,
                                                "owner": alice})
    assert made.status_code == 200, made.text
    assert made.json() == {"group_id": g, "type": "AVChatRoom", "member_count": 0}
    assert error_of(admin.post("/v1/admin/groups", json={
        "type": "AVChatRoom", "group_id": gid(), "members": [users("x")]})) == (400, 10002)
    assert error_of(admin.post(f"/v1/admin/groups/{g}/invite",
                               json={"user_ids": [users("x")]})) == (403, 10007)
    sent = admin.post("/v1/admin/messages", json={
        "from": alice, "conversation_id": f"group_{g}", "client_msg_id": "a1",
        "elements": [{"type": "text", "text": "x"}]})
    assert sent.status_code == 400, sent.text
    c = server.http(app, users("bob"))
    made = c.post("/v1/groups", json={"type": "AVChatRoom", "group_id": gid()})
    assert made.status_code == 200 and made.json()["member_count"] == 0, made.text
    # The v4 API, as Tencent's, names only imported accounts.
    v4(server, app, "im_open_login_svc/account_import", {"UserID": alice})
    created = v4(server, app, "group_open_http_svc/create_group",
                 {"Type": "AVChatRoom", "Owner_Account": alice, "Name": "Stage"})
    assert created["ActionStatus"] == "OK", created
    info = v4(server, app, "group_open_http_svc/get_group_info",
              {"GroupIdList": [created["GroupId"]]})
    assert info["GroupInfo"][0]["Type"] == "AVChatRoom"
    other = server.http(other_app, other_app.admin)
    assert error_of(other.get(f"/v1/admin/groups/{g}")) == (404, 10010)
    assert admin.delete(f"/v1/admin/groups/{g}").status_code == 200
