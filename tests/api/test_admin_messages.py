"""The native admin API for messages: send as any user (delivered live to
both users' devices, idempotent), batch-send to up to 500 users with
per-recipient results and idempotency, any user's history, read cursor and
conversation list; only for the admin's own app; bad input changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.support import App, Conn, Server, error_of, openapi_doc

Users = Callable[[str], str]
TEXT = [{"type": "text", "text": "hello from the shop"}]


def admin(server: Server, app: App) -> httpx.Client:
    return server.http(app, app.admin)


def send_as(http: httpx.Client, sender: str, peer: str, client_msg_id: str,
            **extra: Any) -> httpx.Response:
    return http.post("/v1/admin/messages", json={
        "from": sender, "conversation_id": f"c2c_{peer}", "client_msg_id": client_msg_id,
        "elements": TEXT, **extra})


def history(http: httpx.Client, user: str, peer: str, **params: Any) -> dict[str, Any]:
    reply = http.get(f"/v1/admin/conversations/{user}/c2c_{peer}/messages", params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def conversation_list(http: httpx.Client, user: str) -> dict[str, dict[str, Any]]:
    reply = http.get(f"/v1/admin/users/{user}/conversations")
    assert reply.status_code == 200, reply.text
    return {c["conversation_id"]: c for c in reply.json()["conversations"]}


# -- send as -----------------------------------------------------------------------


async def test_send_as_reaches_both_users_and_is_idempotent(server: Server, shared_app: App,
                                                             users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    a_conn = await Conn.login(server, shared_app, alice)
    b_conn = await Conn.login(server, shared_app, bob)
    with admin(server, shared_app) as http:
        reply = send_as(http, alice, bob, "order-1", cloud_custom_data="{\"o\":1}")
        assert reply.status_code == 200, reply.text
        ack = reply.json()
        assert set(ack) == {"msg_id", "conversation_id", "seq", "time", "client_msg_id",
                            "duplicate"}
        assert ack["conversation_id"] == f"c2c_{bob}" and ack["seq"] == 1
        assert ack["client_msg_id"] == "order-1" and ack["duplicate"] is False
        got_b = await b_conn.event("message")
        got_a = await a_conn.event("message")  # no socket sent it: the sender's devices get it
        assert got_b["conversation_id"] == f"c2c_{alice}" and got_b["sender"] == alice
        assert got_a["conversation_id"] == f"c2c_{bob}" and got_a["sender"] == alice
        assert got_a["msg_id"] == got_b["msg_id"] == ack["msg_id"]
        assert got_b["elements"] == TEXT and got_b["cloud_custom_data"] == "{\"o\":1}"

        again = send_as(http, alice, bob, "order-1")
        assert again.status_code == 200
        assert again.json() == {**ack, "duplicate": True}
        await b_conn.no_event("message")
        # The same id in another conversation of the same sender is refused.
        assert error_of(send_as(http, alice, users("carol"), "order-1")) == (409, 10012)
        # A client resending the same id as alice gets the same message.
        with server.http(shared_app, alice) as client:
            resent = client.post("/v1/messages", json={
                "conversation_id": f"c2c_{bob}", "client_msg_id": "order-1", "elements": TEXT})
        assert resent.json()["msg_id"] == ack["msg_id"]
        assert [m["seq"] for m in history(http, bob, alice)["messages"]] == [1]
    await a_conn.close()
    await b_conn.close()


def test_send_as_a_deleted_or_disabled_account_is_refused(server: Server, shared_app: App,
                                                          users: Users) -> None:
    gone, off, bob = users("gone"), users("off"), users("bob")
    with admin(server, shared_app) as http:
        assert http.post("/v1/admin/accounts/import", json={
            "accounts": [{"user_id": gone}, {"user_id": off}]}).status_code == 200
        assert http.post("/v1/admin/accounts/delete",
                         json={"user_ids": [gone]}).status_code == 200
        assert http.post(f"/v1/admin/accounts/{off}/disable").status_code == 200
        assert error_of(send_as(http, gone, bob, "m1")) == (403, 70107)
        assert error_of(send_as(http, off, bob, "m1")) == (403, 70051)
        batch = http.post("/v1/admin/messages/batch", json={
            "from": gone, "to": [bob], "client_msg_id": "b1", "elements": TEXT})
        assert error_of(batch) == (403, 70107)
        assert conversation_list(http, bob) == {}
        # Sending *to* them is as for a client: allowed, their messages stay readable.
        assert send_as(http, bob, gone, "m2").status_code == 200


# -- batch -------------------------------------------------------------------------


async def test_batch_one_bad_recipient_does_not_fail_the_others(server: Server, shared_app: App,
                                                                users: Users) -> None:
    shop, bob, carol = users("shop"), users("bob"), users("carol")
    b_conn = await Conn.login(server, shared_app, bob)
    body = {"from": shop, "to": [bob, " bad", carol, bob, shop], "client_msg_id": "promo",
            "elements": TEXT}
    with admin(server, shared_app) as http:
        reply = http.post("/v1/admin/messages/batch", json=body)
        assert reply.status_code == 200, reply.text
        results = reply.json()["results"]
        assert [r["to"] for r in results] == [bob, " bad", carol, shop]  # repeats once
        ok = {r["to"]: r["ack"] for r in results if r["error"] is None}
        assert set(ok) == {bob, carol}
        assert ok[bob]["client_msg_id"] == f"promo:{bob}" and ok[bob]["duplicate"] is False
        assert ok[carol]["conversation_id"] == f"c2c_{carol}"
        errors = {r["to"]: r["error"]["code"] for r in results if r["error"] is not None}
        assert errors == {" bad": 10008, shop: 10009}
        assert all(r["ack"] is None for r in results if r["error"] is not None)
        live = await b_conn.event("message")
        assert live["sender"] == shop and live["msg_id"] == ok[bob]["msg_id"]

        # A retry stores nothing new: the same message per recipient.
        retry = http.post("/v1/admin/messages/batch", json={**body, "to": [carol, bob]})
        assert retry.status_code == 200
        again = {r["to"]: r["ack"] for r in retry.json()["results"]}
        assert again[bob] == {**ok[bob], "duplicate": True}
        assert again[carol] == {**ok[carol], "duplicate": True}
        await b_conn.no_event("message")
        for peer in (bob, carol):
            stored = history(http, peer, shop)["messages"]
            assert [(m["seq"], m["client_msg_id"]) for m in stored] == [(1, f"promo:{peer}")]
        assert set(conversation_list(http, shop)) == {f"c2c_{bob}", f"c2c_{carol}"}
    await b_conn.close()


def test_batch_takes_a_long_client_id_and_stays_idempotent(server: Server, shared_app: App,
                                                           users: Users) -> None:
    """A UUID plus a long user id passes 64 characters once joined: the stored
    id becomes a digest, still the same on every retry."""
    shop, long_peer = users("shop"), users("x" * 20)
    body = {"from": shop, "to": [long_peer], "client_msg_id": str(uuid.uuid4()),
            "elements": TEXT}
    with admin(server, shared_app) as http:
        first = http.post("/v1/admin/messages/batch", json=body)
        assert first.status_code == 200, first.text
        [result] = first.json()["results"]
        assert result["error"] is None and result["ack"]["duplicate"] is False
        assert len(result["ack"]["client_msg_id"]) <= 64
        again = http.post("/v1/admin/messages/batch", json=body).json()["results"][0]["ack"]
        assert again == {**result["ack"], "duplicate": True}
        assert len(history(http, long_peer, shop)["messages"]) == 1


def test_batch_and_send_bad_input_store_nothing(server: Server, shared_app: App,
                                                users: Users) -> None:
    shop, bob = users("shop"), users("bob")
    cases: list[tuple[dict[str, Any], tuple[int, int]]]
    good: dict[str, Any] = {"from": shop, "to": [bob], "client_msg_id": "x", "elements": TEXT}
    with admin(server, shared_app) as http:
        cases = [
            ({"to": [f"u{i}" for i in range(501)]}, (400, 10002)),
            ({"to": []}, (400, 10002)),
            ({"client_msg_id": "c" * 65}, (400, 10002)),
            ({"client_msg_id": ""}, (400, 10002)),
            ({"from": ""}, (400, 10008)),
            ({"from": "x" * 33}, (400, 10008)),
            ({"to": [bob, 7]}, (400, 10002)),
            ({"elements": [{"type": "nope"}]}, (400, 90002)),
            ({"sender": shop}, (400, 10002)),
        ]
        for change, expected in cases:
            reply = http.post("/v1/admin/messages/batch", json={**good, **change})
            assert error_of(reply) == expected, change
        del_from = {k: v for k, v in good.items() if k != "from"}
        assert error_of(http.post("/v1/admin/messages/batch", json=del_from)) == (400, 10002)
        raw = http.post("/v1/admin/messages/batch", content=b'{"from": "x", "to": [',
                        headers={"Content-Type": "application/json"})
        assert error_of(raw) == (400, 90001)

        one: dict[str, Any] = {"from": shop, "conversation_id": f"c2c_{bob}", "client_msg_id": "y",
               "elements": TEXT}
        cases = [
            ({"conversation_id": "c2c_"}, (400, 10009)),
            ({"conversation_id": f"c2c_{shop}"}, (400, 10009)),
            ({"conversation_id": "bob"}, (400, 10009)),
            ({"from": " shop"}, (400, 10008)),
            ({"client_msg_id": "c" * 65}, (400, 10002)),
            ({"elements": []}, (400, 90002)),
            ({"to": [bob]}, (400, 10002)),
        ]
        for change, expected in cases:
            reply = http.post("/v1/admin/messages", json={**one, **change})
            assert error_of(reply) == expected, change
        raw = http.post("/v1/admin/messages", content=b"{nope",
                        headers={"Content-Type": "application/json"})
        assert error_of(raw) == (400, 90001)
        assert conversation_list(http, shop) == {}
        assert conversation_list(http, bob) == {}


# -- reading and read cursors as a user ----------------------------------------------


async def test_history_read_and_conversations_as_another_user(server: Server, shared_app: App,
                                                              users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, bob) as client:
        for i in range(3):
            assert client.post("/v1/messages", json={
                "conversation_id": f"c2c_{alice}", "client_msg_id": f"m{i}",
                "elements": [{"type": "text", "text": f"n{i}"}]}).status_code == 200
    a_conn = await Conn.login(server, shared_app, alice)
    with admin(server, shared_app) as http:
        listed = conversation_list(http, alice)
        assert set(listed) == {f"c2c_{bob}"}
        assert listed[f"c2c_{bob}"]["unread"] == 3
        assert listed[f"c2c_{bob}"]["last_message"]["elements"] == [{"type": "text",
                                                                    "text": "n2"}]
        page = history(http, alice, bob, limit=2)
        assert [m["seq"] for m in page["messages"]] == [2, 3] and page["more"] is True
        assert all(m["conversation_id"] == f"c2c_{bob}" for m in page["messages"])
        older = history(http, alice, bob, before_seq=2)
        assert [m["seq"] for m in older["messages"]] == [1] and older["more"] is False

        read = http.post(f"/v1/admin/conversations/{alice}/c2c_{bob}/read", json={"seq": 2})
        assert read.status_code == 200, read.text
        assert read.json() == {"conversation_id": f"c2c_{bob}", "read_seq": 2, "unread": 1}
        assert await a_conn.event("read") == read.json()
        assert conversation_list(http, alice)[f"c2c_{bob}"]["unread"] == 1
        # Bob's own cursor did not move.
        assert conversation_list(http, bob)[f"c2c_{alice}"]["unread"] == 0
        assert conversation_list(http, bob)[f"c2c_{alice}"]["read_seq"] == 3
        rest = http.post(f"/v1/admin/conversations/{alice}/c2c_{bob}/read")
        assert rest.json() == {"conversation_id": f"c2c_{bob}", "read_seq": 3, "unread": 0}
        assert (await a_conn.event("read"))["read_seq"] == 3
        # The client sees what the admin did.
        with server.http(shared_app, alice) as client:
            mine = client.get("/v1/conversations").json()["conversations"]
        assert [(c["conversation_id"], c["unread"]) for c in mine] == [(f"c2c_{bob}", 0)]

        assert error_of(http.get(f"/v1/admin/users/{alice}/conversations",
                                 params={"limit": 100_000})) == (400, 10002)
        assert error_of(http.get(f"/v1/admin/users/%20{alice}/conversations")) == (400, 10008)
        assert error_of(http.get(f"/v1/admin/conversations/{alice}/x_{bob}/messages")
                        ) == (400, 10009)
        assert error_of(http.post(f"/v1/admin/conversations/{alice}/c2c_{bob}/read",
                                  json={"seq": "2"})) == (400, 10002)
    await a_conn.close()


# -- who may call ----------------------------------------------------------------------


def test_non_admins_are_refused(server: Server, shared_app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, alice) as http:
        for reply in [
            send_as(http, alice, bob, "m1"),
            http.post("/v1/admin/messages/batch", json={
                "from": alice, "to": [bob], "client_msg_id": "b", "elements": TEXT}),
            http.get(f"/v1/admin/conversations/{bob}/c2c_{alice}/messages"),
            http.post(f"/v1/admin/conversations/{bob}/c2c_{alice}/read"),
            http.get(f"/v1/admin/users/{bob}/conversations"),
        ]:
            assert error_of(reply) == (403, 90009), reply.request.url
    assert error_of(httpx.get(f"{server.base_url}/v1/admin/users/{bob}/conversations")
                    ) == (401, 70002)
    with admin(server, shared_app) as http:
        assert conversation_list(http, bob) == {}


async def test_another_apps_admin_never_reaches_this_app(server: Server, shared_app: App,
                                                         other_app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, bob) as client:
        assert client.post("/v1/messages", json={
            "conversation_id": f"c2c_{alice}", "client_msg_id": "m1",
            "elements": TEXT}).status_code == 200
    a_conn = await Conn.login(server, shared_app, alice)
    with admin(server, other_app) as http:
        # Its alice and bob are other people: nothing to see, nothing to read.
        assert conversation_list(http, alice) == {}
        assert history(http, alice, bob) == {"messages": [], "more": False}
        read = http.post(f"/v1/admin/conversations/{alice}/c2c_{bob}/read")
        assert read.json()["read_seq"] == 0
        # Sending as its bob reaches its alice, not this app's.
        assert send_as(http, bob, alice, "m1").json()["duplicate"] is False
        batch = http.post("/v1/admin/messages/batch", json={
            "from": bob, "to": [alice], "client_msg_id": "b", "elements": TEXT})
        assert batch.json()["results"][0]["error"] is None
        await a_conn.no_event("message")
        await a_conn.no_event("read", 0.1)
    with admin(server, shared_app) as http:
        assert [m["client_msg_id"] for m in history(http, alice, bob)["messages"]] == ["m1"]
        assert conversation_list(http, alice)[f"c2c_{bob}"]["unread"] == 1
    await a_conn.close()


def test_openapi_describes_the_message_endpoints(server: Server) -> None:
    spec = openapi_doc(server.base_url)
    paths = {"/v1/admin/messages", "/v1/admin/messages/batch",
             "/v1/admin/conversations/{user_id}/{conversation_id}/messages",
             "/v1/admin/conversations/{user_id}/{conversation_id}/read",
             "/v1/admin/users/{user_id}/conversations"}
    assert paths <= set(spec["paths"])
    for path in paths:
        for op in spec["paths"][path].values():
            assert op["security"] == [{"AdminUserSig": []}, {"ApiKey": []}, {"Operator": []}], path
    schemas = spec["components"]["schemas"]
    for name in ("AdminSendRequest", "AdminBatchSendRequest", "BatchOut"):
        assert schemas[name]["examples"], name
    assert "from" in schemas["AdminBatchSendRequest"]["properties"]
