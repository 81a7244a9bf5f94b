"""The native admin API for accounts: who may call it (an admin's UserSig or
an app API key, each only for its own app), import and check, delete,
disable and enable, kick (sessions closed, earlier tickets revoked), online
state, and bad input that changes nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support import App, Conn, Server, error_of, openapi_doc
from tidings.domain import usersig

Users = Callable[[str], str]


def admin(server: Server, app: App) -> httpx.Client:
    """A client authenticated with the admin's UserSig (signed by TLSSigAPIv2)."""
    return server.http(app, app.admin)


def with_key(server: Server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"ApiKey {key}"},
                        timeout=10)


def rest_login(server: Server, app: App, user: str, ticket: str | None = None) -> httpx.Response:
    return httpx.get(f"{server.base_url}/v1/conversations", timeout=10, headers={
        "Authorization": f"Bearer {app.sig(user) if ticket is None else ticket}"})


def existing(server: Server, app: App, *user_ids: str) -> list[str]:
    with admin(server, app) as http:
        reply = http.post("/v1/admin/accounts/check", json={"user_ids": list(user_ids)})
    assert reply.status_code == 200, reply.text
    found: list[str] = reply.json()["existing"]
    return found


async def socket_login(server: Server, app: App, user: str, ticket: str | None = None,
                       device: dict[str, str] | None = None) -> tuple[Conn, dict[str, Any]]:
    conn = await Conn.open(server)
    data: dict[str, Any] = {"sdkappid": app.sdkappid, "user_id": user,
                            "usersig": app.sig(user) if ticket is None else ticket}
    if device is not None:
        data["device"] = device
    return conn, await conn.request("login", data)


async def closed_with(conn: Conn) -> tuple[int | None, str]:
    return await asyncio.wait_for(conn.closed, 5)


# -- who may call ------------------------------------------------------------------


def test_admin_usersig_is_required(server: Server, shared_app: App, users: Users) -> None:
    alice = users("alice")
    body = {"user_ids": [alice]}
    with admin(server, shared_app) as http:
        ok = http.post("/v1/admin/accounts/check", json=body)
    assert ok.status_code == 200 and ok.json() == {"existing": [], "missing": [alice]}
    url = f"{server.base_url}/v1/admin/accounts/check"
    # A valid UserSig of a user who is not an admin of the app.
    with server.http(shared_app, alice) as http:
        assert error_of(http.post("/v1/admin/accounts/check", json=body)) == (403, 90009)
    expired = usersig.sign(shared_app.sdkappid, shared_app.secret_key, shared_app.admin, 60,
                           now=int(time.time()) - 3600)
    for headers, expected in [
        ({}, (401, 70002)),
        ({"Authorization": "Basic abc"}, (401, 70002)),
        ({"Authorization": "ApiKey"}, (401, 70002)),
        ({"Authorization": f"Bearer {expired}"}, (401, 70001)),
        ({"Authorization": "ApiKey tdk_1_" + "x" * 48}, (401, 70030)),
        ({"Authorization": "ApiKey not-a-key"}, (401, 70030)),
    ]:
        assert error_of(httpx.post(url, json=body, headers=headers)) == expected, headers


def test_api_keys_from_the_cli(server: Server, app: App, users: Users) -> None:
    alice = users("alice")
    made = json.loads(server.cli("app", "api-key", "create", str(app.sdkappid),
                                 "--name", "backend").stdout)
    key = made["key"]
    assert key.startswith(f"tdk_{app.sdkappid}_") and len(key.split("_", 2)[2]) == 48
    assert made["name"] == "backend" and key.startswith(made["prefix"])
    second = json.loads(server.cli("app", "api-key", "create", str(app.sdkappid)).stdout)
    listed = json.loads(server.cli("app", "api-key", "list", str(app.sdkappid)).stdout)
    assert [k["id"] for k in listed] == [made["id"], second["id"]]
    assert all("key" not in k and k["revoked_at"] is None for k in listed)
    # The key is not stored: it appears nowhere in the listing.
    assert key not in json.dumps(listed)

    with with_key(server, key) as http:
        reply = http.post("/v1/admin/accounts/import", json={"accounts": [{"user_id": alice}]})
        assert reply.status_code == 200, reply.text
    assert existing(server, app, alice) == [alice]

    revoked = server.cli("app", "api-key", "revoke", str(app.sdkappid), str(made["id"]))
    assert json.loads(revoked.stdout)["revoked"] is True
    with with_key(server, key) as http:
        assert error_of(http.post("/v1/admin/accounts/check",
                                  json={"user_ids": [alice]})) == (401, 70030)
    with with_key(server, second["key"]) as http:
        assert http.post("/v1/admin/accounts/check", json={"user_ids": [alice]}
                         ).json()["existing"] == [alice]
    again = server.cli("app", "api-key", "revoke", str(app.sdkappid), str(made["id"]),
                       check=False)
    assert again.returncode == 2
    listed = json.loads(server.cli("app", "api-key", "list", str(app.sdkappid)).stdout)
    assert listed[0]["revoked_at"] is not None and listed[1]["revoked_at"] is None


async def test_admins_of_another_app_never_reach_this_one(server: Server, shared_app: App,
                                                          other_app: App, users: Users) -> None:
    alice = users("alice")
    conn, reply = await socket_login(server, shared_app, alice)
    assert reply["ok"], reply
    # The other app's admin imports and kicks "alice": its own alice.
    with admin(server, other_app) as http:
        assert http.post("/v1/admin/accounts/import",
                         json={"accounts": [{"user_id": alice}]}).status_code == 200
        kicked = http.post(f"/v1/admin/accounts/{alice}/kick")
        assert kicked.status_code == 200 and kicked.json()["sessions_closed"] == 0
        assert http.post(f"/v1/admin/accounts/{alice}/disable").status_code == 200
        assert http.get(f"/v1/admin/accounts/{alice}/online").json()["online"] is False
    await asyncio.sleep(0.3)
    assert not conn.closed.done()
    assert rest_login(server, shared_app, alice).status_code == 200
    assert rest_login(server, other_app, alice).status_code == 403
    # The other app's admin UserSig is not an admin of this app, even if it
    # names this app (it is signed with the wrong key).
    forged = usersig.sign(shared_app.sdkappid, other_app.secret_key, other_app.admin)
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"Bearer {forged}"}) as http:
        assert error_of(http.post("/v1/admin/accounts/check",
                                  json={"user_ids": [alice]})) == (401, 70009)
    # A key of the other app with this app's number spliced in is unknown.
    key = json.loads(server.cli("app", "api-key", "create", str(other_app.sdkappid)).stdout)["key"]
    spliced = key.replace(str(other_app.sdkappid), str(shared_app.sdkappid), 1)
    with with_key(server, spliced) as http:
        assert error_of(http.post(f"/v1/admin/accounts/{alice}/kick")) == (401, 70030)
    with with_key(server, key) as http:
        assert http.post("/v1/admin/accounts/check", json={"user_ids": [alice]}
                         ).json() == {"existing": [alice], "missing": []}
    assert not conn.closed.done()
    await conn.close()


# -- import, check, delete ------------------------------------------------------------


def test_import_and_check(server: Server, shared_app: App, users: Users) -> None:
    alice, bob, carol, zoe = users("alice"), users("bob"), users("carol"), users("zoe")
    assert rest_login(server, shared_app, carol).status_code == 200  # exists by logging in
    with admin(server, shared_app) as http:
        reply = http.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": alice, "nickname": "Alice", "avatar_url": "https://x.example/a.png"},
            {"user_id": bob}, {"user_id": carol, "nickname": "Carol"}]})
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"results": [{"user_id": alice, "result": "created"},
                                            {"user_id": bob, "result": "created"},
                                            {"user_id": carol, "result": "updated"}]}
        checked = http.post("/v1/admin/accounts/check",
                            json={"user_ids": [zoe, alice, bob, carol, alice]})
        assert checked.json() == {"existing": [alice, bob, carol], "missing": [zoe]}
        again = http.post("/v1/admin/accounts/import",
                          json={"accounts": [{"user_id": alice, "nickname": "Alicia"}]})
        assert again.json() == {"results": [{"user_id": alice, "result": "updated"}]}


async def test_delete_refuses_login_and_closes_sessions(server: Server, shared_app: App,
                                                        users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    conn, reply = await socket_login(server, shared_app, alice)
    assert reply["ok"]
    with server.http(shared_app, bob) as http:
        assert http.post("/v1/messages", json={
            "conversation_id": f"c2c_{alice}", "client_msg_id": "m1",
            "elements": [{"type": "text", "text": "hello"}]}).status_code == 200
    with admin(server, shared_app) as http:
        deleted = http.post("/v1/admin/accounts/delete", json={"user_ids": [alice, users("x")]})
        assert deleted.status_code == 200
        assert [r["result"] for r in deleted.json()["results"]] == ["deleted", "not_found"]
    assert await closed_with(conn) == (4007, "account deleted")
    assert error_of(rest_login(server, shared_app, alice)) == (403, 70107)
    conn2, refused = await socket_login(server, shared_app, alice)
    assert refused["ok"] is False and refused["error"]["code"] == 70107
    await conn2.close()
    assert existing(server, shared_app, alice, bob) == [bob]
    # The messages stay.
    with server.http(shared_app, bob) as http:
        page = http.get(f"/v1/conversations/c2c_{alice}/messages").json()
        assert [m["elements"][0]["text"] for m in page["messages"]] == ["hello"]
    # Deleting again finds nothing; importing brings the account back.
    with admin(server, shared_app) as http:
        again = http.post("/v1/admin/accounts/delete", json={"user_ids": [alice]})
        assert again.json()["results"] == [{"user_id": alice, "result": "not_found"}]
        back = http.post("/v1/admin/accounts/import", json={"accounts": [{"user_id": alice}]})
        assert back.json()["results"] == [{"user_id": alice, "result": "created"}]
    assert rest_login(server, shared_app, alice).status_code == 200


async def test_disable_and_enable(server: Server, shared_app: App, users: Users) -> None:
    alice = users("alice")
    phone, reply = await socket_login(server, shared_app, alice)
    assert reply["ok"]
    laptop, reply = await socket_login(server, shared_app, alice)
    assert reply["ok"]
    with admin(server, shared_app) as http:
        off = http.post(f"/v1/admin/accounts/{alice}/disable")
        assert off.json() == {"user_id": alice, "state": "disabled", "sessions_closed": 2}
    assert await closed_with(phone) == (4006, "account disabled")
    assert await closed_with(laptop) == (4006, "account disabled")
    assert error_of(rest_login(server, shared_app, alice)) == (403, 70051)
    conn, refused = await socket_login(server, shared_app, alice)
    assert refused["ok"] is False and refused["error"]["code"] == 70051
    await conn.close()
    assert existing(server, shared_app, alice) == [alice]  # disabled still exists
    with admin(server, shared_app) as http:
        on = http.post(f"/v1/admin/accounts/{alice}/enable")
        assert on.json() == {"user_id": alice, "state": "active", "sessions_closed": 0}
        unknown = users("nobody")
        for action in ("disable", "enable", "kick"):
            assert error_of(http.post(f"/v1/admin/accounts/{unknown}/{action}")) == (404, 10010)
    assert rest_login(server, shared_app, alice).status_code == 200


async def test_kick_closes_sessions_and_revokes_earlier_tickets(server: Server, shared_app: App,
                                                                users: Users) -> None:
    alice = users("alice")
    old = usersig.sign(shared_app.sdkappid, shared_app.secret_key, alice,
                       now=int(time.time()) - 5)
    conn, reply = await socket_login(server, shared_app, alice, old)
    assert reply["ok"], reply
    assert rest_login(server, shared_app, alice, old).status_code == 200
    with admin(server, shared_app) as http:
        kicked = http.post(f"/v1/admin/accounts/{alice}/kick")
    assert kicked.status_code == 200, kicked.text
    at = kicked.json()["sessions_valid_after"]
    assert kicked.json()["sessions_closed"] == 1
    assert await closed_with(conn) == (4005, "kicked")
    # The old ticket, and one signed the second before the kick, are refused.
    assert error_of(rest_login(server, shared_app, alice, old)) == (401, 70052)
    just_before = usersig.sign(shared_app.sdkappid, shared_app.secret_key, alice,
                               now=at // 1000 - 1)
    assert error_of(rest_login(server, shared_app, alice, just_before)) == (401, 70052)
    conn2, refused = await socket_login(server, shared_app, alice, old)
    assert refused["ok"] is False and refused["error"]["code"] == 70052
    await conn2.close()
    # A ticket signed after the kick works at once, even within the same second.
    fresh = shared_app.sig(alice)
    assert usersig.parse(fresh).issued_at >= at // 1000
    assert rest_login(server, shared_app, alice, fresh).status_code == 200
    conn3, ok = await socket_login(server, shared_app, alice, fresh)
    assert ok["ok"], ok
    await conn3.close()


async def test_online_state_per_device(server: Server, shared_app: App, users: Users) -> None:
    alice = users("alice")
    with admin(server, shared_app) as http:
        assert http.get(f"/v1/admin/accounts/{alice}/online").json() == {
            "user_id": alice, "online": False, "devices": []}
        before = int(time.time() * 1000)
        phone, r1 = await socket_login(server, shared_app, alice,
                                       device={"platform": "ios", "id": "phone-1"})
        laptop, r2 = await socket_login(server, shared_app, alice,
                                        device={"platform": "web", "id": "laptop"})
        assert r1["ok"] and r2["ok"]
        state = http.get(f"/v1/admin/accounts/{alice}/online").json()
        assert state["online"] is True
        devices = sorted(state["devices"], key=lambda d: d["device_id"])
        assert [(d["platform"], d["device_id"]) for d in devices] == [("web", "laptop"),
                                                                      ("ios", "phone-1")]
        assert {d["session_id"] for d in devices} == {r1["data"]["session_id"],
                                                      r2["data"]["session_id"]}
        assert all(before - 1000 <= d["since"] <= int(time.time() * 1000) for d in devices)
        await phone.close()
        await asyncio.sleep(0.3)
        left = http.get(f"/v1/admin/accounts/{alice}/online").json()["devices"]
        assert [d["device_id"] for d in left] == ["laptop"]
        await laptop.close()


# -- bad input ---------------------------------------------------------------------


def test_bad_input_changes_nothing(server: Server, shared_app: App, users: Users) -> None:
    alice = users("alice")
    many = [{"user_id": f"{alice}-{i}"[:32]} for i in range(101)]
    cases: list[tuple[str, Any, tuple[int, int]]] = [
        ("import", {"accounts": many}, (400, 10002)),
        ("import", {"accounts": []}, (400, 10002)),
        ("import", {"accounts": [{"user_id": alice}, {"user_id": "x" * 33}]}, (400, 10008)),
        ("import", {"accounts": [{"user_id": alice}, {"user_id": " padded"}]}, (400, 10008)),
        ("import", {"accounts": [{"user_id": alice}, {"user_id": alice}]}, (400, 10002)),
        ("import", {"accounts": [{"user_id": alice, "nickname": "ñ" * 251}]}, (400, 10002)),
        ("import", {"accounts": [{"user_id": alice, "avatar_url": "u" * 501}]}, (400, 10002)),
        ("import", {"accounts": [{"user_id": alice, "age": 3}]}, (400, 10002)),
        ("import", {"accounts": [{"user_id": 7}]}, (400, 10002)),
        ("import", {"users": [{"user_id": alice}]}, (400, 10002)),
        ("check", {"user_ids": [alice] * 101}, (400, 10002)),
        ("check", {"user_ids": []}, (400, 10002)),
        ("check", {"user_ids": "alice"}, (400, 10002)),
        ("delete", {"user_ids": [alice, "é" * 17]}, (400, 10008)),
        ("delete", {"user_ids": [alice] * 101}, (400, 10002)),
    ]
    with admin(server, shared_app) as http:
        for path, body, expected in cases:
            reply = http.post(f"/v1/admin/accounts/{path}", json=body)
            assert error_of(reply) == expected, (path, body, reply.text)
        for path in ("import", "check", "delete"):
            bad = http.post(f"/v1/admin/accounts/{path}", content=b'{"user_ids": [',
                            headers={"Content-Type": "application/json"})
            assert error_of(bad) == (400, 90001)
            plain = http.post(f"/v1/admin/accounts/{path}", content=b"x")
            assert error_of(plain) == (400, 10002)
        too_long = "y" * 33
        for action in ("disable", "enable", "kick"):
            assert error_of(http.post(f"/v1/admin/accounts/{too_long}/{action}")) == (400, 10008)
        assert error_of(http.get(f"/v1/admin/accounts/{too_long}/online")) == (400, 10008)
        assert error_of(http.get(f"/v1/admin/accounts/{too_long}/mute")) == (400, 10008)
        assert error_of(http.put(f"/v1/admin/accounts/{too_long}/mute",
                                 json={"c2c_seconds": 5})) == (400, 10008)
        assert error_of(http.get("/v1/admin/accounts/import")) == (405, 10002)
    assert existing(server, shared_app, alice) == []


def test_openapi_describes_the_admin_api(server: Server) -> None:
    spec = openapi_doc(server.base_url)
    paths = {p for p in spec["paths"] if p.startswith("/v1/admin/")}
    # The account paths (test_admin_messages checks the message paths).
    assert {p for p in paths if p.startswith("/v1/admin/accounts/")} == {
                     "/v1/admin/accounts/import", "/v1/admin/accounts/check",
                     "/v1/admin/accounts/delete", "/v1/admin/accounts/{user_id}/disable",
                     "/v1/admin/accounts/{user_id}/enable", "/v1/admin/accounts/{user_id}/kick",
                     "/v1/admin/accounts/{user_id}/online",
                     "/v1/admin/accounts/{user_id}/mute"}
    kick = spec["paths"]["/v1/admin/accounts/{user_id}/kick"]["post"]
    assert kick["security"] == [{"AdminUserSig": []}, {"ApiKey": []}, {"Operator": []}]
    schemas = spec["components"]["schemas"]
    for name in ("ImportAccountsRequest", "UserIdsRequest", "ImportOut", "CheckOut",
                 "DeleteOut", "StateOut", "KickOut", "OnlineOut", "AccountMuteRequest",
                 "MuteOut"):
        assert schemas[name]["examples"], name


def test_list_accounts_by_pages_with_state_and_last_login(server: Server, app: App) -> None:
    """Issue 16: an admin lists the app's accounts, a page at a time, with
    their state and last login (from a real login)."""
    with admin(server, app) as http:
        done = http.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": u, "nickname": u.upper()} for u in ("ann", "ben", "cat", "dan")]})
        assert done.status_code == 200, done.text
        assert http.post("/v1/admin/accounts/ben/disable").status_code == 200
        assert http.post("/v1/admin/accounts/delete",
                         json={"user_ids": ["dan"]}).status_code == 200
    assert rest_login(server, app, "eve").status_code == 200  # exists by logging in
    with admin(server, app) as http:
        everyone = http.get("/v1/admin/accounts").json()["users"]
        assert [u["user_id"] for u in everyone] == [app.admin, "ann", "ben", "cat", "dan",
                                                    "eve"]  # the admin logged in, too
        first = http.get("/v1/admin/accounts", params={"after": app.admin, "limit": 2}).json()
        assert [(u["user_id"], u["state"], u["nickname"]) for u in first["users"]] == [
            ("ann", "active", "ANN"), ("ben", "disabled", "BEN")]
        assert first["next"] == "ben" and first["users"][0]["last_login_at"] is None
        rest = http.get("/v1/admin/accounts", params={"after": first["next"]}).json()
        assert [u["user_id"] for u in rest["users"]] == ["cat", "dan", "eve"]
        assert rest["next"] is None
        eve = rest["users"][-1]
        assert eve["last_login_at"] is not None and eve["last_login_at"] >= eve["created_at"]
        deleted = http.get("/v1/admin/accounts", params={"state": "deleted"}).json()
        assert [u["user_id"] for u in deleted["users"]] == ["dan"]
        assert error_of(http.get("/v1/admin/accounts", params={"state": "gone"})) == (
            400, 10002)
        assert error_of(http.get("/v1/admin/accounts", params={"limit": 0}))[0] == 400
        # The console's search: user ids that start with some text, exactly.
        http.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": u} for u in ("Bee", "bed", "b%d", "b_x")]})
        for prefix, found in (("be", ["bed", "ben"]), ("B", ["Bee"]), ("b%", ["b%d"]),
                              ("b_", ["b_x"]), ("zz", [])):
            page = http.get("/v1/admin/accounts", params={"prefix": prefix}).json()
            assert [u["user_id"] for u in page["users"]] == found, prefix
        assert error_of(http.get("/v1/admin/accounts", params={"prefix": "x" * 33}))[0] == 400
