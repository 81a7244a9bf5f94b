"""Groups over the client REST API and the admin API: the same rules as the
socket ops, the app's admin may do everything, apps stay apart, bad input
gets a stable code and changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.gateway.test_history import _ok
from tests.support import App, Conn, Server, error_of


@pytest.fixture
def app(shared_app: App) -> App:
    return shared_app


Users = Callable[[str], str]


def gid() -> str:
    return f"r-{uuid.uuid4().hex[:12]}"


async def test_rest_and_admin_manage_groups(server: Server, app: App, other_app: App,
                                            users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    admin = server.http(app, app.admin)
    a = server.http(app, alice)
    b = server.http(app, bob)
    g = gid()
    # The admin makes a Public group owned by alice; bob cannot join by himself.
    made = admin.post("/v1/admin/groups", json={"type": "Public", "group_id": g,
                                                "owner": alice, "members": [bob],
                                                "name": "Shop fans"})
    assert made.status_code == 200, made.text
    assert made.json() == {"group_id": g, "type": "Public", "member_count": 2}
    assert error_of(b.post(f"/v1/groups/{g}/invite", json={"user_ids": [carol]})) == (
        403, 10007)
    assert error_of(server.http(app, carol).post(f"/v1/groups/{g}/join")) == (403, 10007)
    assert a.post(f"/v1/groups/{g}/invite", json={"user_ids": [carol]}).json() == {
        "added": [carol], "already": []}
    sent = b.post("/v1/messages", json={"conversation_id": f"group_{g}", "client_msg_id": "r1",
                                        "elements": [{"type": "text", "text": "hello"}]})
    assert sent.status_code == 200 and sent.json()["seq"] == 3
    history = server.http(app, carol).get(f"/v1/conversations/group_{g}/messages").json()
    assert [m["elements"][0]["text"] for m in history["messages"]] == ["hello"]
    info = b.get(f"/v1/groups/{g}").json()
    assert (info["owner"], info["member_count"], info["name"]) == (alice, 3, "Shop fans")
    listed = b.get("/v1/groups").json()["groups"]
    assert [(x["group_id"], x["role"]) for x in listed if x["group_id"] == g] == [(g, "Member")]
    page = admin.get(f"/v1/admin/groups/{g}/members", params={"limit": 2}).json()
    assert len(page["members"]) == 2 and page["more"] is True
    # The admin may do what the owner may; a member may not.
    assert error_of(b.post(f"/v1/groups/{g}/mute", json={"user_id": carol,
                                                        "seconds": 60})) == (403, 10007)
    assert admin.post(f"/v1/admin/groups/{g}/mute", json={"user_id": bob,
                                                          "seconds": 60}).status_code == 200
    assert error_of(b.post("/v1/messages", json={
        "conversation_id": f"group_{g}", "client_msg_id": "r2",
        "elements": [{"type": "text", "text": "x"}]})) == (403, 10017)
    assert admin.post(f"/v1/admin/groups/{g}/role", json={"user_id": bob,
                                                          "role": "Admin"}).status_code == 200
    assert admin.patch(f"/v1/admin/groups/{g}", json={"introduction": "hi"}).status_code == 200
    assert a.post(f"/v1/groups/{g}/name_card", json={"name_card": "Boss"}).status_code == 200
    me = next(m for m in a.get(f"/v1/groups/{g}/members").json()["members"]
              if m["user_id"] == alice)
    assert me["name_card"] == "Boss"
    assert g in [x["group_id"] for x in
                 admin.get(f"/v1/admin/users/{bob}/groups").json()["groups"]]
    # Another app's admin does not see it; malformed bodies change nothing.
    other = server.http(other_app, other_app.admin)
    assert error_of(other.get(f"/v1/admin/groups/{g}")) == (404, 10010)
    assert error_of(other.delete(f"/v1/admin/groups/{g}")) == (404, 10010)
    assert error_of(admin.post(f"/v1/admin/groups/{g}/invite", json={"user_ids": "x"}))[1] == (
        10002)
    assert error_of(admin.post("/v1/admin/groups", json={"type": "Work", "group_id": g}))[1] == (
        10021)
    assert error_of(admin.post(f"/v1/admin/groups/{g}/kick",
                               json={"user_ids": [alice]})) == (403, 10007)
    assert admin.get(f"/v1/admin/groups/{g}").json()["member_count"] == 3
    # A server-chosen id; the admin disbands.
    chosen = a.post("/v1/groups", json={"type": "Meeting"}).json()["group_id"]
    assert chosen.startswith("@TGS#")
    quoted = chosen.replace("#", "%23")
    assert error_of(a.post(f"/v1/groups/{quoted}/leave")) == (409, 10060)
    assert admin.delete(f"/v1/admin/groups/{quoted}").status_code == 200
    assert error_of(a.get(f"/v1/groups/{quoted}")) == (404, 10010)


async def test_admin_ops_reach_members_live(server: Server, app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    admin = server.http(app, app.admin)
    g = gid()
    admin.post("/v1/admin/groups", json={"type": "Work", "group_id": g, "members": [alice]})
    conn = await Conn.login(server, app, alice)
    assert admin.post(f"/v1/admin/groups/{g}/invite", json={"user_ids": [bob]}).status_code == 200
    entry = await conn.event("system")
    assert (entry["op"], entry["by"], entry["users"]) == ("invited", None, [bob])
    # Ownerless group: the admin alone disbands a Work group.
    assert error_of(server.http(app, alice).delete(f"/v1/groups/{g}")) == (403, 10007)
    admin.delete(f"/v1/admin/groups/{g}")
    assert (await conn.event("system"))["op"] == "disbanded"
    listed = await _ok(conn, "conversations", {})
    assert f"group_{g}" not in [c["conversation_id"] for c in listed["conversations"]]


async def test_default_members_join_every_new_group(server: Server, users: Users) -> None:
    own = server.create_app("Defaults")
    admin = server.http(own, own.admin)
    guest, support, alice = users("guest"), users("support"), users("alice")
    assert admin.get("/v1/admin/group-settings").json()["default_members"] == []
    put = admin.put("/v1/admin/group-settings", json={"default_members": [guest, support]})
    assert put.json()["default_members"] == [guest, support]
    assert error_of(admin.put("/v1/admin/group-settings",
                              json={"default_members": [" bad"]})) == (400, 10008)
    made = server.http(own, alice).post("/v1/groups", json={"type": "Work"}).json()
    assert made["member_count"] == 3
    roles = {m["user_id"]: m["role"] for m in admin.get(
        f"/v1/admin/groups/{made['group_id'].replace('#', '%23')}/members").json()["members"]}
    assert roles == {alice: "Owner", guest: "Member", support: "Member"}
    # The CLI sets the same list (a running server sees it within seconds).
    done = server.cli("app", "update", str(own.sdkappid), "--no-group-default-members")
    assert '"group_default_members": []' in done.stdout or (
        '"group_default_members":[]' in done.stdout)
