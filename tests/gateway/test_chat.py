"""Two users chatting one-to-one over the socket (issue 2, points 4 to 6)."""

from __future__ import annotations

from typing import Any

from tests.support import App, Conn, Server


async def test_message_reaches_peer_and_ack_follows_commit(server: Server, app: App) -> None:
    alice = await Conn.login(server, app, "alice")
    bob = await Conn.login(server, app, "bob")
    reply = await alice.request("send", {
        "conversation_id": "c2c_bob", "client_msg_id": "m-1",
        "elements": [{"type": "text", "text": "hi bob"},
                     {"type": "custom", "data": "{\"order\": 42}"}],
        "cloud_custom_data": "shop:42",
    })
    assert reply["ok"], reply
    ack = reply["data"]
    assert ack["seq"] == 1 and ack["conversation_id"] == "c2c_bob" and not ack["duplicate"]
    got = await bob.event("message")
    assert got["conversation_id"] == "c2c_alice"
    assert got["sender"] == "alice" and got["seq"] == 1 and got["msg_id"] == ack["msg_id"]
    assert got["elements"][0] == {"type": "text", "text": "hi bob"}
    assert got["elements"][1]["type"] == "custom" and got["elements"][1]["data"] == '{"order": 42}'
    assert got["cloud_custom_data"] == "shop:42"
    # The ack came after the commit: the message is already in history.
    with server.http(app, "bob") as http:
        page = http.get("/v1/conversations/c2c_alice/messages").json()
    assert [m["msg_id"] for m in page["messages"]] == [ack["msg_id"]]
    await alice.close()
    await bob.close()


async def test_resend_with_same_client_id_returns_first_ack(server: Server, app: App) -> None:
    alice = await Conn.login(server, app, "alice")
    bob = await Conn.login(server, app, "bob")
    first = await alice.send_text("c2c_bob", "once", client_msg_id="same")
    again = await alice.send_text("c2c_bob", "once", client_msg_id="same")
    assert again["ok"] and again["data"]["duplicate"] is True
    assert again["data"]["msg_id"] == first["data"]["msg_id"]
    assert again["data"]["seq"] == first["data"]["seq"]
    await bob.event("message")
    await bob.no_event("message")
    # A new connection (as after a reconnect) gets the same answer.
    alice2 = await Conn.login(server, app, "alice")
    third = await alice2.send_text("c2c_bob", "once", client_msg_id="same")
    assert third["data"]["msg_id"] == first["data"]["msg_id"]
    with server.http(app, "alice") as http:
        page = http.get("/v1/conversations/c2c_bob/messages").json()
    assert len(page["messages"]) == 1
    for c in (alice, alice2, bob):
        await c.close()


async def test_every_device_gets_every_message(server: Server, app: App) -> None:
    phone = await Conn.login(server, app, "alice")
    laptop = await Conn.login(server, app, "alice")
    bob_phone = await Conn.login(server, app, "bob")
    bob_web = await Conn.login(server, app, "bob")
    sent = await phone.send_text("c2c_bob", "from my phone")
    assert sent["ok"]
    own = await laptop.event("message")
    assert own["sender"] == "alice" and own["conversation_id"] == "c2c_bob"
    assert own["seq"] == sent["data"]["seq"]
    for device in (bob_phone, bob_web):
        got = await device.event("message")
        assert got["conversation_id"] == "c2c_alice" and got["seq"] == sent["data"]["seq"]
    # The sending device gets the ack, not a second copy.
    await phone.no_event("message")
    for c in (phone, laptop, bob_phone, bob_web):
        await c.close()


async def test_the_recent_acks_do_not_keep_the_sending_connection(server: Server,
                                                                  app: App) -> None:
    """A resend is answered from the recent acks (50,000 kept); they keep
    the ack's fields, not the request: neither the connection that sent it
    (its session and socket objects would stay alive that long after it
    closed) nor the message's content; and plain values only, so the
    collector stops tracking the entries (50,000 tracked ones made a 34 ms
    gen-1 pause at 500 msg/s)."""
    import gc

    alice = await Conn.login(server, app, "alice")
    first = await alice.send_text("c2c_bob", "kept?" * 50, client_msg_id="recent-1")
    await alice.close()

    async def kept(services: Any) -> tuple[list[type], bool]:
        sending = services.runtime.messaging.recent_ack.__self__
        entry = sending._recent[(app.sdkappid, "alice", "recent-1")]
        gc.collect()  # a tuple of plain values is untracked by a collection
        return (sorted({type(o) for o in gc.get_referents(entry)}, key=str),
                gc.is_tracked(entry))

    # Ints (ids, seq, time), the dropped flag and strings (the key's) only.
    assert server._call(kept) == ([bool, int, str], False)  # type: ignore[attr-defined]
    again = await Conn.login(server, app, "alice")
    repeat = await again.send_text("c2c_bob", "kept?" * 50, client_msg_id="recent-1")
    assert repeat["data"] == {**first["data"], "duplicate": True}
    await again.close()
