"""Groups over the WebSocket: create, membership, one seq per group shared by
messages and system entries, live fan-out to the connected members, exact
catch-up, history from the join seq (earlier for Meeting groups), unread
and read, recall by the sender or an admin; and the rights table with its
refusals (stable codes, nothing changed)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.test_changes import _code as code
from tests.gateway.test_history import _ok as ok
from tests.support import App, Conn, Server


@pytest.fixture
def app(shared_app: App) -> App:
    return shared_app


Users = Callable[[str], str]


async def say(conn: Conn, group: str, text: str) -> dict[str, Any]:
    reply = await conn.send_text(f"group_{group}", text)
    assert reply["ok"], reply
    return reply["data"]  # type: ignore[no-any-return]


def gid() -> str:
    return f"g-{uuid.uuid4().hex[:12]}"


async def entries(conn: Conn, group: str, after: int = 0) -> list[dict[str, Any]]:
    """Everything of the group after ``after`` through sync (all pages)."""
    got: list[dict[str, Any]] = []
    known = {f"group_{group}": after}
    while True:
        data = await ok(conn, "sync", {"known": known})
        mine = [m for m in data["messages"] if m["conversation_id"] == f"group_{group}"]
        got += mine
        if mine:
            known[f"group_{group}"] = mine[-1]["seq"]
        if not data["more"]:
            return got


async def test_group_messages_share_one_seq_and_reach_every_connected_member(
        server: Server, app: App, users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    a = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    c = await Conn.login(server, app, carol)
    g = gid()
    created = await ok(a, "group_create", {"type": "Work", "group_id": g, "name": "Team",
                                           "members": [bob, carol]})
    assert created == {"group_id": g, "type": "Work", "member_count": 3}
    for conn in (a, b, c):
        entry = await conn.event("system")
        assert (entry["op"], entry["seq"], entry["conversation_id"]) == (
            "created", 1, f"group_{g}")
    first = await say(a, g, "hello all")
    second = await say(b, g, "hi alice")
    assert (first["seq"], second["seq"]) == (2, 3)
    for conn, senders in ((a, [bob]), (b, [alice]), (c, [alice, bob])):
        for sender in senders:
            msg = await conn.event("message")
            assert msg["sender"] == sender and msg["conversation_id"] == f"group_{g}"
    listed = {x["conversation_id"]: x for x in (await ok(c, "conversations", {}))["conversations"]}
    assert listed[f"group_{g}"]["type"] == "group"
    assert listed[f"group_{g}"]["unread"] == 2
    assert listed[f"group_{g}"]["last_message"]["seq"] == 3
    # Your own messages never count as unread.
    mine = {x["conversation_id"]: x for x in (await ok(b, "conversations", {}))["conversations"]}
    assert mine[f"group_{g}"]["unread"] == 0
    read = await ok(c, "read", {"conversation_id": f"group_{g}"})
    assert read["unread"] == 0 and read["read_seq"] == 3
    history = await ok(c, "history", {"conversation_id": f"group_{g}"})
    assert [m["seq"] for m in history["messages"]] == [2, 3]
    info = await ok(b, "group_info", {"group_id": g})
    assert (info["owner"], info["member_count"], info["name"], info["type"]) == (
        alice, 3, "Team", "Work")
    roles = {m["user_id"]: m["role"] for m in
             (await ok(b, "group_members", {"group_id": g}))["members"]}
    assert roles == {alice: "Owner", bob: "Member", carol: "Member"}
    assert g in [x["group_id"] for x in (await ok(c, "group_list", {}))["groups"]]


async def test_new_member_sees_from_the_join_and_meeting_members_see_earlier(
        server: Server, app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    a = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    work, meeting = gid(), gid()
    await ok(a, "group_create", {"type": "Work", "group_id": work})
    await ok(a, "group_create", {"type": "Meeting", "group_id": meeting})
    for g in (work, meeting):
        await say(a, g, "before bob")
    assert await code(b, "history", {"conversation_id": f"group_{work}"}) == 10011
    assert await code(b, "send", {"conversation_id": f"group_{work}", "client_msg_id": "x",
                                  "elements": [{"type": "text", "text": "hi"}]}) == 10011
    # Work: by invitation only; Meeting: anyone joins.
    assert await code(b, "group_join", {"group_id": work}) == 10007
    await ok(a, "group_invite", {"group_id": work, "user_ids": [bob]})
    await ok(b, "group_join", {"group_id": meeting})
    assert await code(b, "group_join", {"group_id": meeting}) == 10061
    for g in (work, meeting):
        await say(a, g, "after bob")
    seen = {g: [m["elements"][0]["text"] for m in
                (await ok(b, "history", {"conversation_id": f"group_{g}"}))["messages"]]
            for g in (work, meeting)}
    assert seen == {work: ["after bob"], meeting: ["before bob", "after bob"]}
    listed = {x["conversation_id"]: x for x in (await ok(b, "conversations", {}))["conversations"]}
    # Only what came after the join is unread.
    assert listed[f"group_{work}"]["unread"] == 1
    assert listed[f"group_{meeting}"]["unread"] == 1
    synced = await entries(b, work)
    assert [(e["kind"], e.get("op")) for e in synced] == [
        ("system", "invited"), ("message", None)]


async def test_offline_member_catches_up_exactly(server: Server, app: App,
                                                 users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    a = await Conn.login(server, app, alice)
    g = gid()
    await ok(a, "group_create", {"type": "Work", "group_id": g, "members": [bob]})
    b = await Conn.login(server, app, bob)
    base = await entries(b, g)
    assert [e["seq"] for e in base] == [1]
    await b.close()
    for i in range(30):
        await say(a, g, f"m{i}")
        if i == 10:
            await ok(a, "group_invite", {"group_id": g, "user_ids": [carol]})
        if i == 20:
            await ok(a, "group_update", {"group_id": g, "notification": "new rules"})
    b = await Conn.login(server, app, bob, sync=False)
    got = await entries(b, g, after=1)
    assert [e["seq"] for e in got] == list(range(2, 34))  # no gap, no duplicate
    system = [(e["op"], e["seq"]) for e in got if e["kind"] == "system"]
    assert [op for op, _ in system] == ["invited", "profile_changed"]
    assert next(e for e in got if e.get("op") == "profile_changed")["changed"] == {
        "notification": "new rules"}
    # Live after the sync, once each.
    await say(a, g, "live")
    assert (await b.event("message"))["seq"] == 34
    await b.no_event("message")


async def test_rights_and_refusals(server: Server, app: App, other_app: App,
                                   users: Users) -> None:
    owner, admin, m1, m2 = users("owner"), users("admin"), users("m1"), users("m2")
    o = await Conn.login(server, app, owner)
    ad = await Conn.login(server, app, admin)
    c1 = await Conn.login(server, app, m1)
    g = gid()
    await ok(o, "group_create", {"type": "Public", "group_id": g, "members": [admin, m1, m2]})
    # Only the owner promotes.
    assert await code(c1, "group_set_role", {"group_id": g, "user_id": admin,
                                             "role": "Admin"}) == 10007
    await ok(o, "group_set_role", {"group_id": g, "user_id": admin, "role": "Admin"})
    # A member kicks no one; an admin kicks members, not the owner nor admins.
    assert await code(c1, "group_kick", {"group_id": g, "user_ids": [owner]}) == 10007
    assert await code(c1, "group_kick", {"group_id": g, "user_ids": [m2]}) == 10007
    assert await code(ad, "group_kick", {"group_id": g, "user_ids": [owner]}) == 10007
    # Public: members do not invite; admins do.
    assert await code(c1, "group_invite", {"group_id": g, "user_ids": [users("x")]}) == 10007
    # The owner cannot leave; must transfer or disband.
    assert await code(o, "group_leave", {"group_id": g}) == 10060
    # Mute one member: they cannot speak, others can; the owner cannot be muted.
    assert await code(ad, "group_mute", {"group_id": g, "user_id": owner,
                                         "seconds": 60}) == 10007
    await ok(ad, "group_mute", {"group_id": g, "user_id": m1, "seconds": 600})
    assert await code(c1, "send", {"conversation_id": f"group_{g}", "client_msg_id": "m",
                                   "elements": [{"type": "text", "text": "hi"}]}) == 10017
    await ok(ad, "group_mute", {"group_id": g, "user_id": m1, "seconds": 0})
    await say(c1, g, "unmuted")
    # Mute all: admins and the owner still speak.
    assert await code(c1, "group_mute_all", {"group_id": g, "mute_all": True}) == 10007
    await ok(o, "group_mute_all", {"group_id": g, "mute_all": True})
    assert await code(c1, "send", {"conversation_id": f"group_{g}", "client_msg_id": "m2",
                                   "elements": [{"type": "text", "text": "hi"}]}) == 10017
    await say(ad, g, "admin speaks")
    await say(o, g, "owner speaks")
    # Profile: owner and admins in a Public group.
    assert await code(c1, "group_update", {"group_id": g, "name": "mine"}) == 10007
    await ok(ad, "group_update", {"group_id": g, "name": "Fans", "custom": {"k": "v"}})
    info = await ok(c1, "group_info", {"group_id": g})
    assert (info["name"], info["custom"], info["mute_all"]) == ("Fans", {"k": "v"}, True)
    # Transfer: the new owner is the owner; the old one a member, who may leave.
    assert await code(ad, "group_transfer", {"group_id": g, "new_owner": admin}) == 10007
    await ok(o, "group_transfer", {"group_id": g, "new_owner": admin})
    roles = {m["user_id"]: m["role"] for m in
             (await ok(ad, "group_members", {"group_id": g}))["members"]}
    assert (roles[admin], roles[owner]) == ("Owner", "Member")
    await ok(o, "group_leave", {"group_id": g})
    assert await code(o, "history", {"conversation_id": f"group_{g}"}) == 10011
    assert await code(o, "group_members", {"group_id": g}) == 10011
    # Kick: gone from the group, told so live.
    await ok(ad, "group_kick", {"group_id": g, "user_ids": [m1]})
    kicked = await c1.event("system")
    while kicked["op"] != "kicked":
        kicked = await c1.event("system")
    assert kicked["users"] == [m1]
    assert await code(c1, "read", {"conversation_id": f"group_{g}"}) == 10011
    # Another app's group, unknown and malformed ids.
    stranger = await Conn.login(server, other_app, users("s"))
    assert await code(stranger, "group_info", {"group_id": g}) == 10010
    assert await code(stranger, "group_join", {"group_id": g}) == 10010
    assert await code(o, "group_info", {"group_id": gid()}) == 10010
    assert await code(o, "group_info", {"group_id": " bad"}) == 10015
    assert await code(o, "group_info", {"group_id": 5}) == 10002
    assert await code(o, "group_create", {"type": "Secret"}) == 10002
    assert await code(o, "group_create", {"type": "Work", "group_id": g}) == 10021
    assert await code(o, "group_create", {"type": "Work", "group_id": "@TGS#mine"}) == 10015
    # Disband: the owner of a Public group may; members get the entry live.
    assert await code(ad, "group_disband", {"group_id": gid()}) == 10010
    await ok(ad, "group_disband", {"group_id": g})
    assert await code(ad, "group_info", {"group_id": g}) == 10010
    listed = [x["conversation_id"] for x in (await ok(ad, "conversations", {}))["conversations"]]
    assert f"group_{g}" not in listed


async def test_recall_in_a_group_by_sender_and_by_admin(server: Server, app: App,
                                                        users: Users) -> None:
    owner, m1, m2 = users("owner"), users("m1"), users("m2")
    o = await Conn.login(server, app, owner)
    c1 = await Conn.login(server, app, m1)
    c2 = await Conn.login(server, app, m2)
    g = gid()
    await ok(o, "group_create", {"type": "Work", "group_id": g, "members": [m1, m2]})
    first = await say(c1, g, "one")
    second = await say(c1, g, "two")
    # Another member may not recall it; the sender and the owner may.
    assert await code(c2, "recall", {"conversation_id": f"group_{g}",
                                     "seq": first["seq"]}) == 10007
    mine = await ok(c1, "recall", {"conversation_id": f"group_{g}", "seq": first["seq"]})
    assert mine["by"] == "sender"
    await ok(o, "recall", {"conversation_id": f"group_{g}", "seq": second["seq"]})
    change = await c2.event("change")
    assert change["target_seq"] == first["seq"]
    texts = [m["state"] for m in
             (await ok(c2, "history", {"conversation_id": f"group_{g}"}))["messages"]]
    assert texts == ["recalled", "recalled"]


async def test_live_fan_out_to_many_members_is_stored_once(server: Server, app: App,
                                                           users: Users) -> None:
    owner = users("owner")
    members = [users(f"m{i}") for i in range(300)]
    o = await Conn.login(server, app, owner)
    g = gid()
    await ok(o, "group_create", {"type": "Community", "group_id": g, "members": members})
    conns = [await Conn.login(server, app, m) for m in members[:40]]
    ack = await say(o, g, "to everyone")
    got = await asyncio.gather(*(c.event("message") for c in conns))
    assert {m["seq"] for m in got} == {ack["seq"]}
    count = await server.sql("SELECT COUNT(*) FROM messages m JOIN groups g"
                             " ON g.conversation_id = m.conversation_id"
                             " WHERE g.group_id = :g AND m.kind = 0", g=g)
    assert count == 1
    for c in conns:
        await c.close()


async def test_mentions_mark_the_conversation_until_read(server: Server, app: App,
                                                         users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    a = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    c = await Conn.login(server, app, carol)
    g = gid()
    await ok(a, "group_create", {"type": "Work", "group_id": g, "members": [bob, carol]})

    async def at_me(conn: Conn) -> bool:
        listed = (await ok(conn, "conversations", {}))["conversations"]
        return bool(next(x for x in listed if x["conversation_id"] == f"group_{g}")["at_me"])

    sent = await a.request("send", {"conversation_id": f"group_{g}", "client_msg_id": "m-at",
                                    "elements": [{"type": "text", "text": "@bob look"}],
                                    "mentions": [bob]})
    assert sent["ok"], sent
    got = await b.event("message")
    assert got["mentions"] == [bob]
    assert (await at_me(b), await at_me(c), await at_me(a)) == (True, False, False)
    await ok(b, "read", {"conversation_id": f"group_{g}"})
    assert await at_me(b) is False
    # @all marks everyone but the sender.
    await c.request("send", {"conversation_id": f"group_{g}", "client_msg_id": "m-all",
                             "elements": [{"type": "text", "text": "@all lunch"}],
                             "mentions": ["@all"]})
    assert (await at_me(a), await at_me(b), await at_me(c)) == (True, True, False)
    # Mentions are for groups; ids must be user ids.
    assert await code(a, "send", {"conversation_id": f"c2c_{bob}", "client_msg_id": "m-c2c",
                                  "elements": [{"type": "text", "text": "x"}],
                                  "mentions": [bob]}) == 10002
    assert await code(a, "send", {"conversation_id": f"group_{g}", "client_msg_id": "m-bad",
                                  "elements": [{"type": "text", "text": "x"}],
                                  "mentions": [" "]}) == 10008
    history = (await ok(c, "history", {"conversation_id": f"group_{g}"}))["messages"]
    assert [m.get("mentions") for m in history] == [[bob], ["@all"]]
