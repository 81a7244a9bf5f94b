"""The client REST API over HTTP against a real server: health, the OpenAPI
spec, sending, conversation lists with unread counts, history pages and read
cursors (with the ``read`` event on the user's other devices)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import App, Conn, Server, openapi_doc

Users = Callable[[str], str]


def send(http: httpx.Client, conversation_id: str, text: str,
         client_msg_id: str | None = None, **extra: Any) -> httpx.Response:
    body = {"conversation_id": conversation_id, "client_msg_id": client_msg_id or uuid.uuid4().hex,
            "elements": [{"type": "text", "text": text}], **extra}
    return http.post("/v1/messages", json=body)


def conversations(http: httpx.Client) -> dict[str, dict[str, Any]]:
    reply = http.get("/v1/conversations")
    assert reply.status_code == 200, reply.text
    return {c["conversation_id"]: c for c in reply.json()["conversations"]}


def history(http: httpx.Client, conversation_id: str, **params: int) -> dict[str, Any]:
    reply = http.get(f"/v1/conversations/{conversation_id}/messages", params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def texts(page: dict[str, Any]) -> list[str]:
    return [m["elements"][0]["text"] for m in page["messages"]]


def test_healthz(server: Server) -> None:
    reply = httpx.get(f"{server.base_url}/healthz")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert isinstance(body["version"], str) and body["version"]
    assert isinstance(body["connections"], int)


async def test_healthz_counts_connections(server: Server, shared_app: App, users: Users) -> None:
    conn = await Conn.login(server, shared_app, users("alice"))
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await http.get("/healthz")).json()["connections"] >= 1
    await conn.close()


def test_openapi_lists_the_client_api(server: Server) -> None:
    spec = openapi_doc(server.base_url)
    paths = spec["paths"]
    assert "post" in paths["/v1/messages"]
    assert "get" in paths["/v1/conversations"]
    assert "get" in paths["/v1/conversations/{conversation_id}/messages"]
    assert "post" in paths["/v1/conversations/{conversation_id}/read"]
    history_params = {p["name"] for p in
                      paths["/v1/conversations/{conversation_id}/messages"]["get"]["parameters"]}
    assert {"before_seq", "limit", "conversation_id"} <= history_params
    # Clients authenticate with a bearer UserSig.
    schemes = spec["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if s.get("scheme", "").lower() == "bearer"]
    assert bearer
    for path, method in (("/v1/messages", "post"), ("/v1/conversations", "get")):
        assert any(bearer[0] in req for req in paths[path][method].get("security", [])), path


def test_send_acks_after_commit_and_shows_for_both(server: Server, shared_app: App,
                                                  users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, alice) as a, server.http(shared_app, bob) as b:
        reply = send(a, f"c2c_{bob}", "hello", "m-1", cloud_custom_data="order:7")
        assert reply.status_code == 200, reply.text
        ack = reply.json()
        assert ack["conversation_id"] == f"c2c_{bob}"
        assert ack["seq"] == 1 and ack["client_msg_id"] == "m-1"
        assert ack["duplicate"] is False
        assert isinstance(ack["msg_id"], str) and isinstance(ack["time"], int)
        # Acked means stored: both sides read it at once.
        for http, peer in ((a, bob), (b, alice)):
            page = history(http, f"c2c_{peer}")
            assert page["more"] is False
            [msg] = page["messages"]
            assert msg["msg_id"] == ack["msg_id"] and msg["seq"] == 1
            assert msg["sender"] == alice and msg["client_msg_id"] == "m-1"
            assert msg["conversation_id"] == f"c2c_{peer}"
            assert msg["elements"] == [{"type": "text", "text": "hello"}]
            assert msg["cloud_custom_data"] == "order:7"
            assert msg["state"] == "normal" and msg["time"] == ack["time"]
        mine, theirs = conversations(a)[f"c2c_{bob}"], conversations(b)[f"c2c_{alice}"]
        for conv in (mine, theirs):
            assert conv["type"] == "c2c" and conv["last_seq"] == 1
            assert conv["last_message"]["msg_id"] == ack["msg_id"]
        assert mine["unread"] == 0 and theirs["unread"] == 1


def test_resend_with_same_client_msg_id_is_the_same_message(server: Server, shared_app: App,
                                                            users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, alice) as a, server.http(shared_app, bob) as b:
        first = send(a, f"c2c_{bob}", "once", "same-id").json()
        # Even with another body, a resend answers the first ack.
        again = send(a, f"c2c_{bob}", "twice?", "same-id")
        assert again.status_code == 200
        repeat = again.json()
        assert repeat["duplicate"] is True
        assert (repeat["msg_id"], repeat["seq"], repeat["time"]) == (
            first["msg_id"], first["seq"], first["time"])
        assert texts(history(b, f"c2c_{alice}")) == ["once"]
        assert conversations(b)[f"c2c_{alice}"]["unread"] == 1
        # The same id in another conversation is a mistake, not a resend.
        other = send(a, f"c2c_{users('carol')}", "x", "same-id")
        assert other.status_code == 409
        assert other.json()["error"]["code"] == 10012
        assert f"c2c_{users('carol')}" not in conversations(a)
        # The same client id from another sender is another message.
        theirs = send(b, f"c2c_{alice}", "mine too", "same-id").json()
        assert theirs["duplicate"] is False and theirs["seq"] == 2


def test_concurrent_resends_store_one_message(server: Server, shared_app: App,
                                              users: Users) -> None:
    alice, bob = users("alice"), users("bob")

    async def burst() -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {shared_app.sig(alice)}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
            body = {"conversation_id": f"c2c_{bob}", "client_msg_id": "dup",
                    "elements": [{"type": "text", "text": "x"}]}
            replies = await asyncio.gather(*(http.post("/v1/messages", json=body)
                                             for _ in range(10)))
        return [r.json() for r in replies]

    acks = asyncio.run(burst())
    assert {a["msg_id"] for a in acks} == {acks[0]["msg_id"]}
    assert sum(not a["duplicate"] for a in acks) == 1
    with server.http(shared_app, bob) as b:
        assert len(history(b, f"c2c_{alice}")["messages"]) == 1


async def test_rest_send_reaches_sockets_of_both_users(server: Server, shared_app: App,
                                                       users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    bob_phone = await Conn.login(server, shared_app, bob)
    alice_laptop = await Conn.login(server, shared_app, alice)
    headers = {"Authorization": f"Bearer {shared_app.sig(alice)}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
        reply = await http.post("/v1/messages", json={
            "conversation_id": f"c2c_{bob}", "client_msg_id": "r-1",
            "elements": [{"type": "text", "text": "from the web"}]})
    ack = reply.json()
    got = await bob_phone.event("message")
    assert got["msg_id"] == ack["msg_id"] and got["conversation_id"] == f"c2c_{alice}"
    own = await alice_laptop.event("message")
    assert own["msg_id"] == ack["msg_id"] and own["conversation_id"] == f"c2c_{bob}"
    await bob_phone.close()
    await alice_laptop.close()


def test_conversation_list_order_and_unread(server: Server, shared_app: App,
                                            users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    with (server.http(shared_app, alice) as a, server.http(shared_app, bob) as b,
          server.http(shared_app, carol) as c):
        assert conversations(a) == {}
        for i in range(3):
            assert send(b, f"c2c_{alice}", f"b{i}").status_code == 200
        assert send(c, f"c2c_{alice}", "c0").status_code == 200
        listed = a.get("/v1/conversations").json()["conversations"]
        # Most recently active first.
        assert [x["conversation_id"] for x in listed] == [f"c2c_{carol}", f"c2c_{bob}"]
        by_id = conversations(a)
        assert by_id[f"c2c_{bob}"]["unread"] == 3
        assert by_id[f"c2c_{bob}"]["last_message"]["elements"][0]["text"] == "b2"
        assert by_id[f"c2c_{carol}"]["unread"] == 1
        # Your own messages never count as unread, for you.
        assert conversations(b)[f"c2c_{alice}"]["unread"] == 0
        assert send(b, f"c2c_{alice}", "b3").status_code == 200
        assert conversations(b)[f"c2c_{alice}"]["unread"] == 0
        assert conversations(a)[f"c2c_{bob}"]["unread"] == 4
        # Replying means having read the conversation up to there.
        assert send(a, f"c2c_{bob}", "a0").status_code == 200
        mine = conversations(a)[f"c2c_{bob}"]
        assert (mine["unread"], mine["read_seq"], mine["last_seq"]) == (0, 5, 5)
        theirs = conversations(b)[f"c2c_{alice}"]
        assert (theirs["unread"], theirs["last_seq"]) == (1, 5)
        assert [x["conversation_id"] for x in a.get("/v1/conversations").json()[
            "conversations"]] == [f"c2c_{bob}", f"c2c_{carol}"]
        # limit cuts the list, newest first.
        short = a.get("/v1/conversations", params={"limit": 1}).json()["conversations"]
        assert [x["conversation_id"] for x in short] == [f"c2c_{bob}"]


def test_history_pages_backwards(server: Server, shared_app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, alice) as a, server.http(shared_app, bob) as b:
        for i in range(1, 8):
            sender, peer = (a, bob) if i % 2 else (b, alice)
            assert send(sender, f"c2c_{peer}", f"m{i}").status_code == 200
        whole = history(a, f"c2c_{bob}")
        assert texts(whole) == [f"m{i}" for i in range(1, 8)] and whole["more"] is False
        assert [m["seq"] for m in whole["messages"]] == list(range(1, 8))
        newest = history(a, f"c2c_{bob}", limit=3)
        assert texts(newest) == ["m5", "m6", "m7"] and newest["more"] is True
        middle = history(a, f"c2c_{bob}", before_seq=5, limit=3)
        assert texts(middle) == ["m2", "m3", "m4"] and middle["more"] is True
        oldest = history(a, f"c2c_{bob}", before_seq=2, limit=3)
        assert texts(oldest) == ["m1"] and oldest["more"] is False
        exact = history(a, f"c2c_{bob}", before_seq=4, limit=3)
        assert texts(exact) == ["m1", "m2", "m3"] and exact["more"] is False
        assert history(a, f"c2c_{bob}", before_seq=1) == {"messages": [], "more": False}
        assert texts(history(a, f"c2c_{bob}", limit=7)) == texts(whole)
        assert history(a, f"c2c_{bob}", limit=6)["more"] is True
        # The page around a message: it and the ones before it, then after it.
        around = history(a, f"c2c_{bob}", around_seq=4, limit=4)
        assert texts(around) == ["m3", "m4", "m5", "m6"]
        assert (around["more"], around["newer"]) == (True, True)
        both = a.get(f"/v1/conversations/c2c_{bob}/messages",
                     params={"before_seq": 5, "around_seq": 4})
        assert (both.status_code, both.json()["error"]["code"]) == (400, 10002)
        # The peer pages the same messages under its own conversation id.
        theirs = history(b, f"c2c_{alice}", before_seq=5, limit=3)
        assert texts(theirs) == ["m2", "m3", "m4"]
        assert {m["conversation_id"] for m in theirs["messages"]} == {f"c2c_{alice}"}
        # A conversation that does not exist is simply empty.
        assert history(a, f"c2c_{users('nobody')}") == {"messages": [], "more": False}


def test_history_is_only_for_members(server: Server, shared_app: App, users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    with server.http(shared_app, alice) as a, server.http(shared_app, carol) as c:
        assert send(a, f"c2c_{bob}", "private").status_code == 200
        # Carol can only name her own conversations: c2c_<alice> is hers with alice.
        assert history(c, f"c2c_{alice}")["messages"] == []
        assert history(c, f"c2c_{bob}")["messages"] == []
        assert conversations(c) == {}


async def test_read_cursor_moves_forward_only(server: Server, shared_app: App,
                                              users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, alice) as a:
        for i in range(5):
            assert send(a, f"c2c_{bob}", f"m{i}").status_code == 200
    bob_phone = await Conn.login(server, shared_app, bob)
    alice_phone = await Conn.login(server, shared_app, alice)
    headers = {"Authorization": f"Bearer {shared_app.sig(bob)}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as b:
        url = f"/v1/conversations/c2c_{alice}/read"

        async def unread() -> tuple[int, int]:
            found = (await b.get("/v1/conversations")).json()["conversations"]
            [conv] = [c for c in found if c["conversation_id"] == f"c2c_{alice}"]
            return conv["read_seq"], conv["unread"]

        assert await unread() == (0, 5)
        reply = await b.post(url, json={"seq": 3})
        assert reply.status_code == 200
        assert reply.json() == {"conversation_id": f"c2c_{alice}", "read_seq": 3, "unread": 2}
        assert await unread() == (3, 2)
        event = await bob_phone.event("read")
        assert event == {"conversation_id": f"c2c_{alice}", "read_seq": 3, "unread": 2}
        # Backwards is ignored.
        back = (await b.post(url, json={"seq": 1})).json()
        assert back["read_seq"] == 3 and back["unread"] == 2
        assert await unread() == (3, 2)
        # Past the end stops at the end.
        far = (await b.post(url, json={"seq": 1000})).json()
        assert far["read_seq"] == 5 and far["unread"] == 0
        assert await unread() == (5, 0)
        # New messages count from the cursor.
        with server.http(shared_app, alice) as a:
            assert send(a, f"c2c_{bob}", "m5").status_code == 200
            assert send(a, f"c2c_{bob}", "m6").status_code == 200
        assert await unread() == (5, 2)
        # Without a seq (and without a body), up to the newest.
        latest = await b.post(url)
        assert latest.status_code == 200 and latest.json()["read_seq"] == 7
        assert await unread() == (7, 0)
        # Bob's cursor is his own: alice's side is unchanged, and her device
        # gets no read event of bob's.
        alice_side = conversations_for(server, shared_app, alice)[f"c2c_{bob}"]
        assert alice_side["unread"] == 0 and alice_side["read_seq"] == 7
        await alice_phone.no_event("read")
        # Reading a conversation where nothing was said reads nothing and makes nothing.
        nobody = users("nobody")
        missing = await b.post(f"/v1/conversations/c2c_{nobody}/read", json={"seq": 3})
        assert missing.status_code == 200
        assert missing.json() == {"conversation_id": f"c2c_{nobody}", "read_seq": 0,
                                  "unread": 0}
        listed = (await b.get("/v1/conversations")).json()["conversations"]
        assert [c["conversation_id"] for c in listed] == [f"c2c_{alice}"]
    await bob_phone.close()
    await alice_phone.close()


async def test_read_over_socket_is_told_to_other_devices(server: Server, shared_app: App,
                                                         users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, alice) as a:
        for i in range(3):
            assert send(a, f"c2c_{bob}", f"m{i}").status_code == 200
    phone = await Conn.login(server, shared_app, bob)
    laptop = await Conn.login(server, shared_app, bob)
    reply = await phone.request("read", {"conversation_id": f"c2c_{alice}", "seq": 2})
    assert reply["ok"] and reply["data"]["read_seq"] == 2
    assert (await laptop.event("read"))["read_seq"] == 2
    await phone.no_event("read")  # the device that read gets the reply only
    with server.http(shared_app, bob) as b:
        assert conversations(b)[f"c2c_{alice}"]["unread"] == 1
    await phone.close()
    await laptop.close()


def conversations_for(server: Server, app: App, user: str) -> dict[str, dict[str, Any]]:
    with server.http(app, user) as http:
        return conversations(http)


@pytest.mark.process_server("kill -9: only a process can be killed mid-write")
def test_acked_messages_survive_kill_9(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    app = srv.create_app()

    async def burst() -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {app.sig('alice')}"}
        async with httpx.AsyncClient(base_url=srv.base_url, headers=headers) as http:
            replies = await asyncio.gather(*(http.post("/v1/messages", json={
                "conversation_id": "c2c_bob", "client_msg_id": f"k-{i}",
                "elements": [{"type": "text", "text": f"k{i}"}]}) for i in range(30)))
        return [r.json() for r in replies]

    acks = asyncio.run(burst())
    srv.kill9()
    srv.start()
    with srv.http(app, "bob") as b:
        stored = history(b, "c2c_alice", limit=100)["messages"]
    assert sorted(m["seq"] for m in stored) == sorted(a["seq"] for a in acks)
    assert sorted(a["seq"] for a in acks) == list(range(1, 31))
    assert {m["msg_id"] for m in stored} == {a["msg_id"] for a in acks}
