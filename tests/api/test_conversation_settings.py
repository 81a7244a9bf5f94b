"""Each user's conversation settings through the public surfaces: pin, mute,
draft, hide, delete with and without clearing the history; the list's order
and flags; events to the user's other devices; the peer sees nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support import App, Conn, Server, error_of

Users = Callable[[str], str]


def listed(server: Server, app: App, user: str) -> list[dict[str, Any]]:
    with server.http(app, user) as http:
        reply = http.get("/v1/conversations")
    assert reply.status_code == 200, reply.text
    return reply.json()["conversations"]  # type: ignore[no-any-return]


def history_seqs(server: Server, app: App, user: str, conversation_id: str) -> list[int]:
    with server.http(app, user) as http:
        reply = http.get(f"/v1/conversations/{conversation_id}/messages")
    assert reply.status_code == 200, reply.text
    return [m["seq"] for m in reply.json()["messages"]]


async def test_pin_mute_draft_and_the_order_of_the_list(server: Server, shared_app: App,
                                                         users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    phone = await Conn.login(server, shared_app, alice)
    laptop = await Conn.login(server, shared_app, alice)
    assert (await phone.send_text(f"c2c_{bob}", "to bob"))["ok"]
    assert (await phone.send_text(f"c2c_{carol}", "to carol"))["ok"]
    assert [c["conversation_id"] for c in listed(server, shared_app, alice)] == [
        f"c2c_{carol}", f"c2c_{bob}"]
    pinned = await phone.request("conversation_set", {"conversation_id": f"c2c_{bob}",
                                                      "pinned": True, "muted": True,
                                                      "draft": "half a thought"})
    assert pinned["ok"], pinned
    got = pinned["data"]
    assert (got["pinned"], got["muted"], got["draft"], got["hidden"]) == (
        True, True, "half a thought", False)
    assert got["draft_time"] > 0
    assert (await laptop.event("conversation_settings")) == got
    found = listed(server, shared_app, alice)
    assert [c["conversation_id"] for c in found] == [f"c2c_{bob}", f"c2c_{carol}"]
    assert found[0]["pinned"] and found[0]["muted"] and found[0]["draft"] == "half a thought"
    assert not found[1]["pinned"] and found[1]["draft"] == ""
    # The peer's view is untouched.
    assert not listed(server, shared_app, bob)[0]["pinned"]
    # A later sync carries the settings too.
    again = await Conn.login(server, shared_app, alice)
    flags = {c["conversation_id"]: c["pinned"] for c in again.last_sync["conversations"]}
    assert flags == {f"c2c_{bob}": True, f"c2c_{carol}": False}
    with server.http(shared_app, alice) as http:
        reply = http.patch(f"/v1/conversations/c2c_{bob}/settings",
                           json={"pinned": False, "draft": ""})
        assert reply.status_code == 200, reply.text
        assert reply.json()["draft"] == "" and reply.json()["muted"] is True
        assert error_of(http.patch(f"/v1/conversations/c2c_{users('nobody')}/settings",
                                   json={"pinned": True})) == (404, 10010)
        assert error_of(http.patch(f"/v1/conversations/c2c_{bob}/settings",
                                   json={"pinned": "yes"})) == (400, 10002)
        assert error_of(http.patch(f"/v1/conversations/c2c_{bob}/settings",
                                   json={"draft": "x" * 5000})) == (400, 10002)
    assert [c["conversation_id"] for c in listed(server, shared_app, alice)] == [
        f"c2c_{carol}", f"c2c_{bob}"]
    for conn in (phone, laptop, again):
        await conn.close()


async def test_hide_until_a_new_message(server: Server, shared_app: App,
                                        users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    alice_phone = await Conn.login(server, shared_app, alice)
    bob_phone = await Conn.login(server, shared_app, bob)
    assert (await bob_phone.send_text(f"c2c_{alice}", "one"))["ok"]
    hidden = await alice_phone.request("conversation_hide", {"conversation_id": f"c2c_{bob}"})
    assert hidden["ok"] and hidden["data"]["hidden"]
    assert listed(server, shared_app, alice) == []
    assert history_seqs(server, shared_app, alice, f"c2c_{bob}") == [1]
    assert (await bob_phone.send_text(f"c2c_{alice}", "two"))["ok"]
    found = listed(server, shared_app, alice)
    assert [c["conversation_id"] for c in found] == [f"c2c_{bob}"] and not found[0]["hidden"]
    await alice_phone.close()
    await bob_phone.close()


async def test_delete_with_and_without_clearing(server: Server, shared_app: App,
                                                users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    alice_phone = await Conn.login(server, shared_app, alice)
    alice_laptop = await Conn.login(server, shared_app, alice)
    bob_phone = await Conn.login(server, shared_app, bob)
    for text in ("one", "two"):
        assert (await bob_phone.send_text(f"c2c_{alice}", text))["ok"]
    deleted = await alice_phone.request("conversation_delete",
                                        {"conversation_id": f"c2c_{bob}"})
    assert deleted["ok"] and deleted["data"]["cleared_seq"] == 0
    assert (await alice_laptop.event("read"))["unread"] == 0
    assert listed(server, shared_app, alice) == []
    assert history_seqs(server, shared_app, alice, f"c2c_{bob}") == [1, 2]
    with server.http(shared_app, alice) as http:
        reply = http.post(f"/v1/conversations/c2c_{bob}/delete", json={"clear_history": True})
    assert reply.status_code == 200 and reply.json()["cleared_seq"] == 2
    assert history_seqs(server, shared_app, alice, f"c2c_{bob}") == []
    assert history_seqs(server, shared_app, bob, f"c2c_{alice}") == [1, 2]
    fresh = await Conn.login(server, shared_app, alice, known={f"c2c_{bob}": 0})
    assert fresh.last_sync["messages"] == []
    assert (await bob_phone.send_text(f"c2c_{alice}", "three"))["ok"]
    found = listed(server, shared_app, alice)
    assert found[0]["unread"] == 1 and found[0]["last_message"]["seq"] == 3
    assert history_seqs(server, shared_app, alice, f"c2c_{bob}") == [3]
    with server.http(shared_app, alice) as http:
        unread = http.get("/v1/conversations").json()["conversations"][0]["unread"]
    assert unread == 1
    for conn in (alice_phone, alice_laptop, bob_phone, fresh):
        await conn.close()


async def test_read_receipts_one_to_one(server: Server, app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    alice_phone = await Conn.login(server, app, alice)
    bob_phone = await Conn.login(server, app, bob)
    for text in ("one", "two"):
        assert (await alice_phone.send_text(f"c2c_{bob}", text))["ok"]
    assert listed(server, app, alice)[0]["peer_read_seq"] == 0
    read = await bob_phone.request("read", {"conversation_id": f"c2c_{alice}", "seq": 2})
    assert read["ok"], read
    assert await alice_phone.event("peer_read") == {"conversation_id": f"c2c_{bob}",
                                                    "peer_read_seq": 2}
    await bob_phone.no_event("peer_read", 0.1)
    assert listed(server, app, alice)[0]["peer_read_seq"] == 2
    again = await Conn.login(server, app, alice)
    assert again.last_sync["conversations"][0]["peer_read_seq"] == 2
    # Reading again where the cursor already is tells nobody.
    assert (await bob_phone.request("read", {"conversation_id": f"c2c_{alice}"}))["ok"]
    await alice_phone.no_event("peer_read", 0.3)
    # An app may switch receipts off.
    with server.http(app, app.admin) as http:
        reply = http.put("/v1/admin/settings/c2c", json={"read_receipts": False})
    assert reply.status_code == 200 and reply.json()["read_receipts"] is False
    assert (await alice_phone.send_text(f"c2c_{bob}", "three"))["ok"]
    assert (await bob_phone.request("read", {"conversation_id": f"c2c_{alice}"}))["ok"]
    await alice_phone.no_event("peer_read", 0.3)
    assert listed(server, app, alice)[0]["peer_read_seq"] is None
    for conn in (alice_phone, bob_phone, again):
        await conn.close()


async def test_typing_is_ephemeral_and_throttled(server: Server, shared_app: App,
                                                 users: Users) -> None:
    alice, bob, mallory = users("alice"), users("bob"), users("mallory")
    alice_phone = await Conn.login(server, shared_app, alice)
    bob_phone = await Conn.login(server, shared_app, bob)
    typed = await alice_phone.request("typing", {"conversation_id": f"c2c_{bob}"})
    assert typed["data"] == {"conversation_id": f"c2c_{bob}", "throttled": False}
    assert await bob_phone.event("typing") == {"conversation_id": f"c2c_{alice}",
                                               "user_id": alice, "typing": True}
    again = await alice_phone.request("typing", {"conversation_id": f"c2c_{bob}"})
    assert again["data"]["throttled"] is True
    await bob_phone.no_event("typing", 0.2)
    with server.http(shared_app, alice) as http:
        reply = http.post(f"/v1/conversations/c2c_{bob}/typing", json={"typing": False})
        assert reply.status_code == 200 and reply.json()["throttled"] is False
        assert error_of(http.post(f"/v1/conversations/c2c_{alice}/typing")) == (400, 10009)
    assert (await bob_phone.event("typing"))["typing"] is False
    # Never stored: nothing to list, nothing in history.
    assert listed(server, shared_app, bob) == []
    # A blocker is not told, and the blocked one cannot tell.
    assert (await bob_phone.request("block", {"user_ids": [mallory]}))["ok"]
    mallory_phone = await Conn.login(server, shared_app, mallory)
    quiet = await mallory_phone.request("typing", {"conversation_id": f"c2c_{bob}"})
    assert quiet["data"]["throttled"] is False
    await bob_phone.no_event("typing", 0.3)
    for conn in (alice_phone, bob_phone, mallory_phone):
        await conn.close()


async def test_reactions(server: Server, shared_app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    alice_phone = await Conn.login(server, shared_app, alice)
    bob_phone = await Conn.login(server, shared_app, bob)
    assert (await alice_phone.send_text(f"c2c_{bob}", "lunch?"))["ok"]
    added = await bob_phone.request("reaction_add", {"conversation_id": f"c2c_{alice}",
                                                     "seq": 1, "emoji": "👍"})
    assert added["data"] == {"conversation_id": f"c2c_{alice}", "seq": 1, "emoji": "👍",
                             "action": "add", "changed": True}
    event = await alice_phone.event("reaction")
    assert (event["conversation_id"], event["seq"], event["user_id"], event["emoji"],
            event["action"]) == (f"c2c_{bob}", 1, bob, "👍", "add")
    with server.http(shared_app, alice) as http:
        reply = http.post(f"/v1/conversations/c2c_{bob}/messages/1/reactions",
                          json={"emoji": "👍"})
        assert reply.status_code == 200 and reply.json()["changed"] is True
        again = http.post(f"/v1/conversations/c2c_{bob}/messages/1/reactions",
                          json={"emoji": "👍"})
        assert again.json()["changed"] is False
        assert error_of(http.post(f"/v1/conversations/c2c_{bob}/messages/9/reactions",
                                  json={"emoji": "👍"})) == (404, 20022)
        assert error_of(http.post(f"/v1/conversations/c2c_{bob}/messages/1/reactions",
                                  json={"emoji": ""})) == (400, 10002)
        page = http.get(f"/v1/conversations/c2c_{bob}/messages").json()
    assert page["messages"][0]["reactions"] == [{"emoji": "👍", "count": 2,
                                                 "users": [bob, alice]}]
    assert (await bob_phone.event("reaction"))["user_id"] == alice
    assert (await alice_phone.event("reaction"))["user_id"] == alice  # REST: every device
    removed = await bob_phone.request("reaction_remove", {"conversation_id": f"c2c_{alice}",
                                                          "seq": 1, "emoji": "👍"})
    assert removed["data"]["changed"] is True
    assert (await alice_phone.event("reaction"))["action"] == "remove"
    fresh = await Conn.login(server, shared_app, bob, known={f"c2c_{alice}": 0})
    assert fresh.last_sync["messages"][0]["reactions"] == [{"emoji": "👍", "count": 1,
                                                            "users": [alice]}]
    # A recalled message takes no new reactions.
    assert (await alice_phone.request("recall", {"conversation_id": f"c2c_{bob}",
                                                 "seq": 1}))["ok"]
    late = await bob_phone.request("reaction_add", {"conversation_id": f"c2c_{alice}",
                                                    "seq": 1, "emoji": "😮"})
    assert not late["ok"] and late["error"]["code"] == 20023
    for conn in (alice_phone, bob_phone, fresh):
        await conn.close()


async def test_reactions_in_a_group_reach_every_member(server: Server, shared_app: App,
                                                       users: Users) -> None:
    alice, bob, carol, dave = users("alice"), users("bob"), users("carol"), users("dave")
    a = await Conn.login(server, shared_app, alice)
    b = await Conn.login(server, shared_app, bob)
    c = await Conn.login(server, shared_app, carol)
    group = f"react-{alice}"
    try:
        made = await a.request("group_create", {"type": "Work", "group_id": group,
                                                "members": [bob, carol]})
        assert made["ok"], made
        sent = await a.send_text(f"group_{group}", "cake at four")
        seq = sent["data"]["seq"]
        added = await b.request("reaction_add", {"conversation_id": f"group_{group}",
                                                 "seq": seq, "emoji": "🎂"})
        assert added["ok"] and added["data"]["changed"] is True, added
        for conn in (a, c):
            event = await conn.event("reaction")
            assert (event["conversation_id"], event["seq"], event["user_id"],
                    event["emoji"]) == (f"group_{group}", seq, bob, "🎂")
        page = server.http(shared_app, carol).get(
            f"/v1/conversations/group_{group}/messages").json()
        [message] = [m for m in page["messages"] if m["seq"] == seq]
        assert message["reactions"] == [{"emoji": "🎂", "count": 1, "users": [bob]}]
        # Not a member: refused, and nothing reaches the members.
        d = await Conn.login(server, shared_app, dave)
        try:
            refused = await d.request("reaction_add", {"conversation_id": f"group_{group}",
                                                       "seq": seq, "emoji": "🎂"})
            assert not refused["ok"] and refused["error"]["code"] == 10011
            # A member who joins later cannot react to what came before the join.
            assert (await a.request("group_invite", {"group_id": group,
                                                     "user_ids": [dave]}))["ok"]
            early = await d.request("reaction_add", {"conversation_id": f"group_{group}",
                                                     "seq": seq, "emoji": "🎂"})
            assert not early["ok"] and early["error"]["code"] == 20022
        finally:
            await d.close()
        await a.no_event("reaction", wait=0.2)
        # Typing indicators stay one-to-one.
        typing = await b.request("typing", {"conversation_id": f"group_{group}",
                                            "typing": True})
        assert not typing["ok"] and typing["error"]["code"] == 10009
    finally:
        for conn in (a, b, c):
            await conn.close()


async def test_replies_quote_a_snapshot_and_show_recalls(server: Server, shared_app: App,
                                                          users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    alice_phone = await Conn.login(server, shared_app, alice)
    bob_phone = await Conn.login(server, shared_app, bob)
    assert (await alice_phone.send_text(f"c2c_{bob}", "lunch at noon?"))["ok"]
    reply = await bob_phone.request("send", {
        "conversation_id": f"c2c_{alice}", "client_msg_id": "r-1",
        "elements": [{"type": "quote", "seq": 1, "text": "forged"},
                     {"type": "text", "text": "yes!"}]})
    assert reply["ok"] and reply["data"]["seq"] == 2, reply
    got = await alice_phone.event("message")
    quote = got["elements"][0]
    assert (quote["type"], quote["seq"], quote["sender"], quote["text"], quote["state"]) == (
        "quote", 1, alice, "lunch at noon?", "normal")
    assert quote["msg_id"].endswith("-1")
    for bad, code in (([{"type": "quote", "seq": 9}], 20022),
                      ([{"type": "quote", "seq": 1}, {"type": "quote", "seq": 2}], 90002),
                      ([{"type": "quote", "seq": 0}], 90002)):
        refused = await bob_phone.request("send", {"conversation_id": f"c2c_{alice}",
                                                   "client_msg_id": f"bad-{code}-{len(bad)}",
                                                   "elements": bad})
        assert not refused["ok"] and refused["error"]["code"] == code, (bad, refused)
    assert (await alice_phone.request("recall", {"conversation_id": f"c2c_{bob}",
                                                 "seq": 1}))["ok"]
    page = history_seqs(server, shared_app, bob, f"c2c_{alice}")
    assert page == [1, 2]
    with server.http(shared_app, bob) as http:
        shown = http.get(f"/v1/conversations/c2c_{alice}/messages").json()["messages"][1]
    assert shown["elements"][0]["state"] == "recalled" and shown["elements"][0]["text"] == ""
    late = await bob_phone.request("send", {
        "conversation_id": f"c2c_{alice}", "client_msg_id": "r-2",
        "elements": [{"type": "quote", "seq": 1}, {"type": "text", "text": "too late"}]})
    assert late["ok"]
    assert (await alice_phone.event("message"))["elements"][0]["state"] == "recalled"
    for conn in (alice_phone, bob_phone):
        await conn.close()
