"""Profiles: the app's server sets every standard and custom field and reads
any profile; a user reads any profile of their app and sets only their
personal fields; devices hear of changes; bad input and other apps change
nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import App, Conn, Server, error_of

Users = Callable[[str], str]
FULL = {"nickname": "Alice ✿", "avatar_url": "https://shopx.example/a/alice.png",
        "gender": "female", "birthday": 19900419, "location": "086-021",
        "signature": "Selling vintage cameras", "language": 2052, "level": 7, "role": 2,
        "allow_type": "allow_any", "custom": {"rating": "4.9", "since": "2019"}}


def admin(server: Server, app: App) -> httpx.Client:
    return server.http(app, app.admin)


def imported(server: Server, app: App, *user_ids: str) -> None:
    with admin(server, app) as http:
        reply = http.post("/v1/admin/accounts/import",
                          json={"accounts": [{"user_id": u} for u in user_ids]})
    assert reply.status_code == 200, reply.text


def profile_of(server: Server, app: App, user: str) -> dict[str, Any]:
    with admin(server, app) as http:
        reply = http.get(f"/v1/admin/profiles/{user}")
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()
    return found


def test_a_new_account_has_the_default_profile(server: Server, shared_app: App,
                                               users: Users) -> None:
    alice = users("alice")
    imported(server, shared_app, alice)
    got = profile_of(server, shared_app, alice)
    assert got.pop("updated_at") == 0
    assert got == {"user_id": alice, "nickname": "", "avatar_url": "", "gender": "unknown",
                   "birthday": 0, "location": "", "signature": "", "language": 0,
                   "level": 0, "role": 0, "allow_type": "need_confirm", "custom": {}}


async def test_admin_sets_every_field_and_devices_hear_it(server: Server, shared_app: App,
                                                          users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    imported(server, shared_app, alice, bob)
    phone = await Conn.login(server, shared_app, alice)
    with admin(server, shared_app) as http:
        reply = http.patch(f"/v1/admin/profiles/{alice}", json=FULL)
    assert reply.status_code == 200, reply.text
    got = reply.json()
    assert got["updated_at"] > 0
    assert {k: got[k] for k in FULL} == FULL
    event = await phone.event("profile")
    assert event == got
    # Anyone of the app reads it, over REST and over the socket.
    with server.http(shared_app, bob) as http:
        listed = http.post("/v1/profiles/get", json={"user_ids": [alice, "nobody", bob]})
    assert listed.status_code == 200, listed.text
    assert listed.json()["profiles"][0] == got
    assert [p["user_id"] for p in listed.json()["profiles"]] == [alice, bob]
    assert listed.json()["missing"] == ["nobody"]
    own = await phone.request("profile_get")
    assert own == {"re": own["re"], "ok": True, "data": got}
    others = await phone.request("profile_get", {"user_ids": [bob]})
    assert others["ok"] and others["data"]["profiles"][0]["user_id"] == bob

    # A partial change keeps the rest; null removes a custom key.
    with admin(server, shared_app) as http:
        reply = http.patch(f"/v1/admin/profiles/{alice}",
                           json={"level": 8, "custom": {"since": None, "badge": "gold"}})
    assert reply.status_code == 200, reply.text
    assert reply.json()["level"] == 8 and reply.json()["nickname"] == FULL["nickname"]
    assert reply.json()["custom"] == {"badge": "gold", "rating": "4.9"}
    await phone.close()


async def test_a_user_sets_personal_fields_only(server: Server, shared_app: App,
                                                users: Users) -> None:
    alice = users("alice")
    imported(server, shared_app, alice)
    with admin(server, shared_app) as http:
        assert http.patch(f"/v1/admin/profiles/{alice}",
                          json={"nickname": "Alice", "level": 3}).status_code == 200
    phone = await Conn.login(server, shared_app, alice)
    laptop = await Conn.login(server, shared_app, alice)
    reply = await phone.request("profile_set", {"signature": "hi", "gender": "female",
                                                "birthday": 20000101})
    assert reply["ok"], reply
    assert reply["data"]["signature"] == "hi" and reply["data"]["nickname"] == "Alice"
    # The other device hears it; the one that asked has the answer already.
    assert (await laptop.event("profile"))["signature"] == "hi"
    await phone.no_event("profile")

    with server.http(shared_app, alice) as http:
        for field, value in [("nickname", "Admin"), ("avatar_url", "https://evil.example/x"),
                             ("level", 99), ("role", 1)]:
            assert error_of(http.patch("/v1/profile", json={field: value})) == (403, 40008)
        assert error_of(http.patch("/v1/profile",
                                   json={"custom": {"rating": "5.0"}})) == (403, 40008)
        # Refused as a whole: the allowed field in the same patch is not set.
        assert error_of(http.patch("/v1/profile", json={"signature": "x", "level": 1})
                        ) == (403, 40008)
        ok = http.patch("/v1/profile", json={"location": "049", "allow_type": "deny_any"})
        assert ok.status_code == 200, ok.text
        mine = http.get("/v1/profile").json()
    assert mine["signature"] == "hi" and mine["level"] == 3 and mine["nickname"] == "Alice"
    assert mine["location"] == "049" and mine["allow_type"] == "deny_any"
    refused = await phone.request("profile_set", {"nickname": "x"})
    assert refused["ok"] is False and refused["error"]["code"] == 40008
    await phone.close()
    await laptop.close()


@pytest.mark.parametrize("patch", [
    {"birthday": -1}, {"birthday": 2**32}, {"level": "3"}, {"level": 1.5},
    {"gender": "other"}, {"allow_type": "maybe"}, {"location": "é" * 9},
    {"signature": "x" * 501}, {"nickname": "昵" * 167}, {"custom": {"bad key": "v"}},
    {"custom": {"k": 1}}, {"custom": {"k": "v" * 501}}, {"custom": {"": "v"}},
    {"custom": {f"k{i}": "v" for i in range(21)}}, {"unknown": 1}, {"nickname": None},
    [], "x",
])
def test_bad_patches_change_nothing(server: Server, shared_app: App, users: Users,
                                    patch: Any) -> None:
    alice = users("alice")
    imported(server, shared_app, alice)
    before = profile_of(server, shared_app, alice)
    with admin(server, shared_app) as http:
        status, code = error_of(http.patch(f"/v1/admin/profiles/{alice}", json=patch))
    assert (status, code) == (400, 10002), patch
    assert profile_of(server, shared_app, alice) == before


def test_custom_fields_are_capped_per_user(server: Server, shared_app: App,
                                           users: Users) -> None:
    alice = users("alice")
    imported(server, shared_app, alice)
    with admin(server, shared_app) as http:
        first = {f"a{i}": "v" for i in range(15)}
        assert http.patch(f"/v1/admin/profiles/{alice}",
                          json={"custom": first}).status_code == 200
        more = {f"b{i}": "v" for i in range(6)}
        assert error_of(http.patch(f"/v1/admin/profiles/{alice}",
                                   json={"signature": "s", "custom": more})) == (400, 10002)
        got = http.get(f"/v1/admin/profiles/{alice}").json()
        assert got["custom"] == first and got["signature"] == ""
        # Replacing keys within the cap is fine.
        swap = {**{f"a{i}": None for i in range(6)}, **more}
        assert http.patch(f"/v1/admin/profiles/{alice}",
                          json={"custom": swap}).status_code == 200
        assert len(http.get(f"/v1/admin/profiles/{alice}").json()["custom"]) == 15


def test_unknown_deleted_and_foreign_accounts(server: Server, shared_app: App,
                                              other_app: App, users: Users) -> None:
    alice, ghost = users("alice"), users("ghost")
    imported(server, shared_app, alice)
    with admin(server, shared_app) as http:
        assert error_of(http.patch(f"/v1/admin/profiles/{ghost}",
                                   json={"level": 1})) == (404, 10010)
        assert error_of(http.get(f"/v1/admin/profiles/{ghost}")) == (404, 10010)
        assert error_of(http.post("/v1/admin/profiles/get",
                                  json={"user_ids": []})) == (400, 10002)
        assert error_of(http.post("/v1/admin/profiles/get",
                                  json={"user_ids": ["x"] * 101})) == (400, 10002)
        assert http.patch(f"/v1/admin/profiles/{alice}",
                          json={"nickname": "Alice"}).status_code == 200
    # The other app's admin sees no alice of ours, and cannot change her.
    with admin(server, other_app) as http:
        assert error_of(http.get(f"/v1/admin/profiles/{alice}")) == (404, 10010)
        assert error_of(http.patch(f"/v1/admin/profiles/{alice}",
                                   json={"nickname": "Mallory"})) == (404, 10010)
    with server.http(other_app, users("eve")) as http:
        assert http.post("/v1/profiles/get", json={"user_ids": [alice]}
                         ).json() == {"profiles": [], "missing": [alice]}
    assert profile_of(server, shared_app, alice)["nickname"] == "Alice"
    # A deleted account has no profile to read or set.
    with admin(server, shared_app) as http:
        assert http.post("/v1/admin/accounts/delete",
                         json={"user_ids": [alice]}).status_code == 200
        assert error_of(http.get(f"/v1/admin/profiles/{alice}")) == (404, 10010)
        assert error_of(http.patch(f"/v1/admin/profiles/{alice}",
                                   json={"level": 1})) == (404, 10010)


def test_nickname_import_and_profile_agree(server: Server, shared_app: App,
                                           users: Users) -> None:
    alice = users("alice")
    with admin(server, shared_app) as http:
        assert http.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": alice, "nickname": "Alice", "avatar_url": "https://a.example/1"}]}
        ).status_code == 200
    got = profile_of(server, shared_app, alice)
    assert (got["nickname"], got["avatar_url"]) == ("Alice", "https://a.example/1")
