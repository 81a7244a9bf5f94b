"""Friends and blocks through the public surfaces: requests (pending, at
once, refused), answers, lists, remarks, deletion one side or both, the
app's friendship rule for one-to-one messages, block lists and what a
blocked sender sees; offline users get their requests on the next sync;
bad input, unknown requests and other apps change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.api.test_profiles import admin, imported
from tests.app_server import AppServer, Call, Reply
from tests.support import App, Conn, Server, error_of

Users = Callable[[str], str]


def call(server: Server, app: App, user: str, method: str, path: str,
         body: Any = None, status: int = 200) -> Any:
    with server.http(app, user) as http:
        reply = http.request(method, path, json=body)
    assert reply.status_code == status, reply.text
    return reply.json()


def friend_ids(server: Server, app: App, user: str) -> list[str]:
    return [f["user_id"] for f in call(server, app, user, "GET", "/v1/friends")["friends"]]


def set_allow(server: Server, app: App, user: str, allow: str) -> None:
    call(server, app, user, "PATCH", "/v1/profile", {"allow_type": allow})


def rules(server: Server, app: App, **body: Any) -> dict[str, Any]:
    with admin(server, app) as http:
        reply = http.put("/v1/admin/settings/c2c", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def test_a_request_waits_for_an_answer_and_reaches_both_sides(
        server: Server, shared_app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    imported(server, shared_app, alice, bob)
    bob_phone = await Conn.login(server, shared_app, bob)
    alice_phone = await Conn.login(server, shared_app, alice)
    alice_laptop = await Conn.login(server, shared_app, alice)
    asked = await alice_phone.request("friend_add", {"user_id": bob, "wording": "hi bob",
                                                     "remark": "Bob"})
    assert asked["ok"] and asked["data"] == {"result": "pending", "user_id": bob}
    got = await bob_phone.event("friend_request")
    assert got["from"] == alice and got["to"] == bob and got["wording"] == "hi bob"
    assert (await alice_laptop.event("friend_request"))["to"] == bob
    listed = call(server, shared_app, bob, "GET", "/v1/friends/requests")
    assert [r["from"] for r in listed["incoming"]] == [alice] and listed["outgoing"] == []
    assert friend_ids(server, shared_app, alice) == []

    accepted = await bob_phone.request("friend_accept", {"user_id": alice, "remark": "Al"})
    assert accepted["ok"] and accepted["data"]["user_id"] == alice
    assert accepted["data"]["remark"] == "Al"
    added = await alice_phone.event("friend_added")
    assert added["user_id"] == bob and added["remark"] == "Bob"
    assert (await alice_laptop.event("friend_added"))["user_id"] == bob
    assert friend_ids(server, shared_app, alice) == [bob]
    assert friend_ids(server, shared_app, bob) == [alice]
    assert call(server, shared_app, bob, "GET", "/v1/friends/requests")["incoming"] == []
    # Asking again changes nothing.
    again = call(server, shared_app, alice, "POST", "/v1/friends/requests", {"user_id": bob})
    assert again == {"result": "friends", "user_id": bob}
    for conn in (alice_phone, alice_laptop, bob_phone):
        await conn.close()


async def test_an_offline_user_gets_requests_on_the_next_sync(
        server: Server, shared_app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    imported(server, shared_app, alice, bob)
    reply = call(server, shared_app, alice, "POST", "/v1/friends/requests",
                 {"user_id": bob, "wording": "remember me?"})
    assert reply["result"] == "pending"
    bob_phone = await Conn.login(server, shared_app, bob)
    waiting = bob_phone.last_sync["friend_requests"]
    assert [(r["from"], r["wording"]) for r in waiting] == [(alice, "remember me?")]
    declined = await bob_phone.request("friend_decline", {"user_id": alice})
    assert declined["ok"], declined
    assert call(server, shared_app, alice, "GET", "/v1/friends/requests")["outgoing"] == []
    # Nothing left to answer.
    again = await bob_phone.request("friend_accept", {"user_id": alice})
    assert not again["ok"] and again["error"]["code"] == 30614
    assert friend_ids(server, shared_app, bob) == []
    await bob_phone.close()


async def test_allow_type_decides(server: Server, shared_app: App, users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    imported(server, shared_app, alice, bob, carol)
    set_allow(server, shared_app, bob, "allow_any")
    set_allow(server, shared_app, carol, "deny_any")
    bob_phone = await Conn.login(server, shared_app, bob)
    reply = call(server, shared_app, alice, "POST", "/v1/friends/requests", {"user_id": bob})
    assert reply == {"result": "added", "user_id": bob}
    assert (await bob_phone.event("friend_added"))["user_id"] == alice
    assert friend_ids(server, shared_app, bob) == [alice]
    with server.http(shared_app, alice) as http:
        refused = http.post("/v1/friends/requests", json={"user_id": carol})
    assert error_of(refused) == (403, 30516)
    assert call(server, shared_app, carol, "GET", "/v1/friends/requests")["incoming"] == []
    # Two requests that cross make friends.
    imported(server, shared_app, users("dave"))
    dave = users("dave")
    assert call(server, shared_app, dave, "POST", "/v1/friends/requests",
                {"user_id": alice})["result"] == "pending"
    assert call(server, shared_app, alice, "POST", "/v1/friends/requests",
                {"user_id": dave})["result"] == "added"
    assert sorted(friend_ids(server, shared_app, alice)) == sorted([bob, dave])
    assert friend_ids(server, shared_app, dave) == [alice]
    await bob_phone.close()


async def test_remarks_and_deleting_one_side_or_both(server: Server, shared_app: App,
                                                     users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    imported(server, shared_app, alice, bob, carol)
    for friend in (bob, carol):
        with admin(server, shared_app) as http:
            reply = http.post(f"/v1/admin/users/{alice}/friends", json={"friend_id": friend})
        assert reply.status_code == 200, reply.text
    alice_phone = await Conn.login(server, shared_app, alice)
    bob_phone = await Conn.login(server, shared_app, bob)
    got = call(server, shared_app, alice, "PATCH", f"/v1/friends/{bob}", {"remark": "B"})
    assert got["remark"] == "B"
    assert (await alice_phone.event("friend_updated"))["remark"] == "B"
    with server.http(shared_app, alice) as http:
        assert error_of(http.patch(f"/v1/friends/{users('nobody')}",
                                   json={"remark": "x"})) == (404, 31704)
    # One side: bob leaves alice's list, alice stays in bob's.
    done = call(server, shared_app, alice, "POST", "/v1/friends/delete",
                {"user_ids": [bob, users("nobody")], "both": False})
    assert done == {"deleted": [bob], "not_friends": [users("nobody")]}
    assert (await alice_phone.event("friend_deleted"))["user_id"] == bob
    await bob_phone.no_event("friend_deleted")
    assert friend_ids(server, shared_app, alice) == [carol]
    assert friend_ids(server, shared_app, bob) == [alice]
    # Both sides.
    done = call(server, shared_app, carol, "POST", "/v1/friends/delete", {"user_ids": [alice]})
    assert done["deleted"] == [alice]
    assert (await alice_phone.event("friend_deleted"))["user_id"] == carol
    assert friend_ids(server, shared_app, alice) == []
    with admin(server, shared_app) as http:
        listed = http.get(f"/v1/admin/users/{bob}/friends")
    assert [f["user_id"] for f in listed.json()["friends"]] == [alice]
    await alice_phone.close()
    await bob_phone.close()


async def test_one_to_one_may_need_friendship(server: Server, app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    imported(server, app, alice, bob)
    assert rules(server, app, needs_friendship=True) == {"needs_friendship": True,
                                                          "blocked_sender_sees": "sent",
                                                          "read_receipts": True}
    alice_phone = await Conn.login(server, app, alice)
    bob_phone = await Conn.login(server, app, bob)
    refused = await alice_phone.send_text(f"c2c_{bob}", "hello stranger")
    assert not refused["ok"] and refused["error"]["code"] == 20009
    with server.http(app, alice) as http:
        reply = http.post("/v1/messages", json={
            "conversation_id": f"c2c_{bob}", "client_msg_id": "x1",
            "elements": [{"type": "text", "text": "hi"}]})
    assert error_of(reply) == (403, 20009)
    await bob_phone.no_event("message")
    # One side is not enough.
    with admin(server, app) as http:
        http.post(f"/v1/admin/users/{alice}/friends", json={"friend_id": bob, "both": False})
    refused = await alice_phone.send_text(f"c2c_{bob}", "still no")
    assert not refused["ok"] and refused["error"]["code"] == 20009
    assert (await bob_phone.request("friend_add", {"user_id": alice}))["data"]["result"] == (
        "added")
    sent = await alice_phone.send_text(f"c2c_{bob}", "friends now")
    assert sent["ok"] and sent["data"]["seq"] == 1
    assert (await bob_phone.event("message"))["seq"] == 1
    # The app's server sends whatever the lists say.
    call(server, app, bob, "POST", "/v1/friends/delete", {"user_ids": [alice]})
    refused = await alice_phone.send_text(f"c2c_{bob}", "gone")
    assert not refused["ok"] and refused["error"]["code"] == 20009
    with admin(server, app) as http:
        reply = http.post("/v1/admin/messages", json={
            "from": alice, "conversation_id": f"c2c_{bob}", "client_msg_id": "adm-1",
            "elements": [{"type": "text", "text": "from the shop"}]})
    assert reply.status_code == 200, reply.text
    # And the CLI turns the rule off.
    shown = server.cli("app", "update", str(app.sdkappid), "--no-c2c-needs-friendship")
    assert '"needs_friendship": false' in shown.stdout
    await alice_phone.close()
    await bob_phone.close()


async def test_a_blocked_sender_sees_sent_and_nothing_arrives(
        server: Server, shared_app: App, users: Users) -> None:
    alice, mallory = users("alice"), users("mallory")
    imported(server, shared_app, alice, mallory)
    alice_phone = await Conn.login(server, shared_app, alice)
    alice_tablet = await Conn.login(server, shared_app, alice)
    mallory_phone = await Conn.login(server, shared_app, mallory)
    assert (await mallory_phone.send_text(f"c2c_{alice}", "before"))["ok"]
    assert (await alice_phone.event("message"))["seq"] == 1
    blocked = await alice_phone.request("block", {"user_ids": [mallory]})
    assert blocked["data"] == {"added": [mallory], "already": []}
    assert (await alice_tablet.event("blocklist"))["added"] == [mallory]
    await mallory_phone.no_event("blocklist", 0.1)
    sent = await mallory_phone.send_text(f"c2c_{alice}", "you there?", "m-2")
    assert sent["ok"] and sent["data"]["seq"] == 0 and sent["data"]["msg_id"] == ""
    again = await mallory_phone.send_text(f"c2c_{alice}", "you there?", "m-2")
    assert again["ok"] and again["data"]["duplicate"] and again["data"]["seq"] == 0
    await alice_phone.no_event("message")
    with server.http(shared_app, alice) as http:
        page = http.get(f"/v1/conversations/c2c_{mallory}/messages").json()
    assert [m["seq"] for m in page["messages"]] == [1]
    # Friend requests from a blocked user are kept out of sight.
    assert (await mallory_phone.request("friend_add", {"user_id": alice}))["data"][
        "result"] == "pending"
    await alice_phone.no_event("friend_request")
    assert call(server, shared_app, alice, "GET", "/v1/friends/requests")["incoming"] == []
    # And the blocker cannot ask the blocked one.
    with server.http(shared_app, alice) as http:
        assert error_of(http.post("/v1/friends/requests",
                                  json={"user_id": mallory})) == (409, 30515)
    listed = call(server, shared_app, alice, "GET", "/v1/blocks")
    assert [b["user_id"] for b in listed["blocked"]] == [mallory]
    # Alice can still write to mallory; unblocking lets mallory through again.
    assert (await alice_phone.send_text(f"c2c_{mallory}", "bye"))["data"]["seq"] == 2
    done = call(server, shared_app, alice, "POST", "/v1/blocks/delete",
                {"user_ids": [mallory, users("nobody")]})
    assert done == {"removed": [mallory], "not_blocked": [users("nobody")]}
    sent = await mallory_phone.send_text(f"c2c_{alice}", "hello again")
    assert sent["data"]["seq"] == 3
    assert (await alice_phone.event("message"))["seq"] == 3
    for conn in (alice_phone, alice_tablet, mallory_phone):
        await conn.close()


async def test_an_app_may_tell_blocked_senders(server: Server, app: App,
                                               users: Users) -> None:
    alice, mallory = users("alice"), users("mallory")
    imported(server, app, alice, mallory)
    rules(server, app, blocked_sender_sees="error")
    with admin(server, app) as http:
        reply = http.post(f"/v1/admin/users/{alice}/blocks", json={"user_ids": [mallory]})
    assert reply.status_code == 200 and reply.json()["added"] == [mallory]
    mallory_phone = await Conn.login(server, app, mallory)
    refused = await mallory_phone.send_text(f"c2c_{alice}", "let me in")
    assert not refused["ok"] and refused["error"]["code"] == 20007
    with server.http(app, mallory) as http:
        reply = http.post("/v1/messages", json={
            "conversation_id": f"c2c_{alice}", "client_msg_id": "m1",
            "elements": [{"type": "text", "text": "hi"}]})
    assert error_of(reply) == (403, 20007)
    with server.http(app, alice) as http:
        assert http.get("/v1/conversations").json()["conversations"] == []
    await mallory_phone.close()


async def test_bad_input_and_other_apps_change_nothing(
        server: Server, shared_app: App, other_app: App, users: Users) -> None:
    alice, bob, stranger = users("alice"), users("bob"), users("stranger")
    imported(server, shared_app, alice, bob)
    imported(server, other_app, stranger)
    with server.http(shared_app, alice) as http:
        assert error_of(http.post("/v1/friends/requests",
                                  json={"user_id": stranger})) == (404, 30003)
        assert error_of(http.post("/v1/friends/requests",
                                  json={"user_id": alice})) == (400, 10002)
        assert error_of(http.post("/v1/friends/requests",
                                  json={"user_id": bob, "wording": "x" * 300})) == (400, 10002)
        assert error_of(http.post("/v1/friends/requests", json={"user": bob})) == (400, 10002)
        assert error_of(http.post(f"/v1/friends/requests/{bob}/accept")) == (404, 30614)
        assert error_of(http.post(f"/v1/friends/requests/{bob}/decline")) == (404, 30614)
        assert error_of(http.post("/v1/blocks", json={"user_ids": []})) == (400, 10002)
        assert error_of(http.post("/v1/blocks", json={"user_ids": [alice]})) == (400, 10002)
    with server.http(other_app, stranger) as http:
        assert error_of(http.post("/v1/friends/requests",
                                  json={"user_id": alice})) == (404, 30003)
    conn = await Conn.login(server, shared_app, alice)
    bad = await conn.request("friend_add", {"user_id": 7})
    assert not bad["ok"] and bad["error"]["code"] == 10002
    bad = await conn.request("block", {"user_ids": "bob"})
    assert not bad["ok"] and bad["error"]["code"] == 10002
    await conn.close()
    assert call(server, shared_app, bob, "GET", "/v1/friends/requests") == {
        "incoming": [], "outgoing": []}
    assert call(server, shared_app, alice, "GET", "/v1/blocks") == {"blocked": []}


async def test_friend_callbacks(server: Server, app: App, users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    imported(server, app, alice, bob, carol)
    app_server = AppServer().start()
    try:
        def answer(c: Call) -> Reply:
            if c.event == "before_friend_add" and c.data["to"] == carol:
                return Reply(body={"action": "reject", "code": 7001, "message": "not today"})
            return Reply(body={"action": "allow"})

        app_server.answer(answer)
        with admin(server, app) as http:
            assert http.put("/v1/admin/callbacks", json={"url": app_server.url}).status_code == 200
        with server.http(app, alice) as http:
            refused = http.post("/v1/friends/requests", json={"user_id": carol, "wording": "?"})
            assert error_of(refused) == (403, 20006)
            assert refused.json()["error"]["app_code"] == 7001
        assert call(server, app, carol, "GET", "/v1/friends/requests")["incoming"] == []
        assert call(server, app, alice, "POST", "/v1/friends/requests",
                    {"user_id": bob, "wording": "hi"})["result"] == "pending"
        asked = (await app_server.wait_for("before_friend_add", 2))[-1].data
        assert (asked["from"], asked["to"], asked["wording"]) == (alice, bob, "hi")
        call(server, app, bob, "POST", f"/v1/friends/requests/{alice}/accept", {})
        added = (await app_server.wait_for("after_friend_add"))[0].data
        assert sorted((p["from"], p["to"]) for p in added["pairs"]) == sorted(
            [(alice, bob), (bob, alice)])
        assert added["cause"] == "accept"
        call(server, app, alice, "POST", "/v1/friends/delete", {"user_ids": [bob]})
        deleted = (await app_server.wait_for("after_friend_delete"))[0].data
        assert len(deleted["pairs"]) == 2
    finally:
        app_server.stop()
