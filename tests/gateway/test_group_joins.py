"""Join applications over the WebSocket: apply, the owner's and admins'
events, approve and decline with the first answer winning, the lists that
reach users who were offline, every refusal with its stable code; and the
``groups_left`` of a sync answer for a member removed while offline."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.test_changes import _code as code
from tests.gateway.test_history import _ok as ok
from tests.support import App, Conn, Server

Users = Callable[[str], str]


@pytest.fixture
def app(shared_app: App) -> App:
    return shared_app


def gid() -> str:
    return f"j-{uuid.uuid4().hex[:12]}"


async def system_op(conn: Conn, op: str) -> dict[str, Any]:
    """The next ``system`` event with that op (earlier ones skipped)."""
    while True:
        entry = await conn.event("system")
        if entry["op"] == op:
            return entry


async def public_group(server: Server, app: App, owner: str, admin: str,
                       members: list[str]) -> tuple[str, Conn, Conn]:
    """A Public group (NeedPermission) with an owner, an admin and members;
    the owner's and the admin's connections."""
    o = await Conn.login(server, app, owner)
    a = await Conn.login(server, app, admin)
    g = gid()
    await ok(o, "group_create", {"type": "Public", "group_id": g, "members": [admin, *members]})
    await ok(o, "group_set_role", {"group_id": g, "user_id": admin, "role": "Admin"})
    await system_op(a, "role_changed")
    return g, o, a


async def test_apply_reaches_owner_and_admins_and_the_first_answer_wins(
        server: Server, app: App, users: Users) -> None:
    alice, bob, carol, dave = users("alice"), users("bob"), users("carol"), users("dave")
    g, o, a = await public_group(server, app, alice, bob, [carol])
    c = await Conn.login(server, app, carol)
    d = await Conn.login(server, app, dave)
    d2 = await Conn.login(server, app, dave)
    assert await code(d, "group_join", {"group_id": g}) == 10007
    applied = await ok(d, "group_apply", {"group_id": g, "message": "let me in"})
    assert applied == {"group_id": g, "user_id": dave, "state": "pending"}
    for conn in (o, a, d2):
        seen = await conn.event("group_join_request")
        assert (seen["user_id"], seen["group_id"], seen["message"], seen["state"]) == (
            dave, g, "let me in", "pending")
    await c.no_event("group_join_request")
    await d.no_event("group_join_request")
    # Listed to the owner and the admin, per group and across groups; not to members.
    for conn in (o, a):
        listed = (await ok(conn, "group_join_requests", {"group_id": g}))["requests"]
        assert [r["user_id"] for r in listed] == [dave]
        everywhere = (await ok(conn, "group_join_requests", {}))["requests"]
        assert [(r["group_id"], r["user_id"]) for r in everywhere] == [(g, dave)]
    assert await code(c, "group_join_requests", {"group_id": g}) == 10007
    assert (await ok(c, "group_join_requests", {}))["requests"] == []
    mine = (await ok(d, "group_applications", {}))["applications"]
    assert [(x["group_id"], x["state"]) for x in mine] == [(g, "pending")]
    # Refusals: a second application, a member answering, a stranger answering.
    assert await code(d, "group_apply", {"group_id": g}) == 94050
    assert await code(c, "group_join_approve", {"group_id": g, "user_id": dave}) == 10007
    assert await code(d2, "group_join_approve", {"group_id": g, "user_id": dave}) == 10011
    assert await code(o, "group_join_approve", {"group_id": g, "user_id": carol}) == 94051
    # The admin approves: dave joins with a `joined` entry, everyone is told.
    answered = await ok(a, "group_join_approve", {"group_id": g, "user_id": dave})
    assert (answered["state"], answered["handled_by"], answered["user_id"]) == (
        "approved", bob, dave)
    # The entry comes first (with the commit), then the answer's event.
    joined = await system_op(d, "joined")
    assert (joined["users"], joined["by"], joined["application"]) == ([dave], bob, True)
    for conn in (o, d, d2):
        handled = await conn.event("group_join_request_handled")
        assert (handled["state"], handled["handled_by"]) == ("approved", bob)
    await a.no_event("group_join_request_handled")
    # The first answer won: the owner's later answers are refused, with who answered.
    late = await o.request("group_join_decline", {"group_id": g, "user_id": dave})
    assert late["error"]["code"] == 94052
    assert (late["error"]["state"], late["error"]["handled_by"]) == ("approved", bob)
    assert await code(o, "group_join_approve", {"group_id": g, "user_id": dave}) == 94052
    # Dave is a member now: he speaks, and may not apply again.
    sent = await d.send_text(f"group_{g}", "hello")
    assert sent["ok"], sent
    assert await code(d, "group_apply", {"group_id": g}) == 10061
    assert (await ok(o, "group_join_requests", {"group_id": g}))["requests"] == []
    for conn in (o, a, c, d, d2):
        await conn.close()


async def test_offline_owner_and_applicant_learn_on_reconnect(
        server: Server, app: App, users: Users) -> None:
    alice, bob, dave = users("alice"), users("bob"), users("dave")
    g, o, a = await public_group(server, app, alice, bob, [])
    await o.close()
    await a.close()
    d = await Conn.login(server, app, dave)
    await ok(d, "group_apply", {"group_id": g, "message": "hi"})
    await d.close()
    # The owner was away: the application is in every sync answer.
    o = await Conn.login(server, app, alice)
    waiting = o.last_sync["group_join_requests"]
    assert [(r["group_id"], r["user_id"], r["message"]) for r in waiting] == [(g, dave, "hi")]
    await ok(o, "group_join_decline", {"group_id": g, "user_id": dave})
    assert o.last_sync["group_applications"] == []
    again = await ok(o, "sync", {"known": {}})
    assert again["group_join_requests"] == []
    # Dave was away: his sync answer carries the answer.
    d = await Conn.login(server, app, dave)
    mine = d.last_sync["group_applications"]
    assert [(x["group_id"], x["state"], x["handled_by"]) for x in mine] == [
        (g, "declined", alice)]
    assert d.last_sync["groups_left"] == []
    assert f"group_{g}" not in {x["conversation_id"] for x in d.last_sync["conversations"]}
    # Declined, he may apply again; the owner's approval while he is away
    # makes him a member, which his next sync shows.
    assert (await ok(d, "group_apply", {"group_id": g}))["state"] == "pending"
    await d.close()
    await ok(o, "group_join_approve", {"group_id": g, "user_id": dave})
    d = await Conn.login(server, app, dave)
    assert [(x["group_id"], x["state"]) for x in d.last_sync["group_applications"]] == [
        (g, "approved")]
    assert f"group_{g}" in {x["conversation_id"] for x in d.last_sync["conversations"]}
    ops = [m.get("op") for m in d.last_sync["messages"] if m["conversation_id"] == f"group_{g}"]
    assert ops == ["joined"]
    await o.close()
    await d.close()


async def test_refusals_change_nothing(server: Server, app: App, other_app: App,
                                       users: Users) -> None:
    alice, bob, dave = users("alice"), users("bob"), users("dave")
    g, o, a = await public_group(server, app, alice, bob, [])
    d = await Conn.login(server, app, dave)
    # Join disabled (a Work group), no such group, bad ids and types, too long.
    work = gid()
    await ok(o, "group_create", {"type": "Work", "group_id": work})
    assert await code(d, "group_apply", {"group_id": work}) == 10007
    assert await code(d, "group_apply", {"group_id": gid()}) == 10010
    assert await code(d, "group_apply", {"group_id": " bad"}) == 10015
    assert await code(d, "group_apply", {"group_id": g, "message": 5}) == 10002
    assert await code(d, "group_apply", {"group_id": g, "extra": 1}) == 10002
    assert await code(d, "group_apply", {"group_id": g, "message": "é" * 151}) == 10002
    assert await code(o, "group_apply", {"group_id": g}) == 10061
    assert await code(o, "group_join_approve", {"group_id": g}) == 10002
    assert await code(o, "group_join_approve", {"group_id": g, "user_id": " x"}) == 10008
    assert await code(o, "group_join_requests", {"group_id": gid()}) == 10010
    assert await code(d, "group_join_requests", {"group_id": g}) == 10011
    assert await code(d, "group_applications", {"x": 1}) == 10002
    # Another app: the same group id is not its group.
    stranger = await Conn.login(server, other_app, users("s"))
    assert await code(stranger, "group_apply", {"group_id": g}) == 10010
    assert await code(stranger, "group_join_approve", {"group_id": g, "user_id": dave}) == 10010
    assert (await ok(o, "group_join_requests", {"group_id": g}))["requests"] == []
    assert (await ok(d, "group_applications", {}))["applications"] == []
    # A FreeAccess group takes the applicant at once.
    await ok(o, "group_update", {"group_id": g, "join_option": "FreeAccess"})
    assert (await ok(d, "group_apply", {"group_id": g})) == {
        "group_id": g, "user_id": dave, "state": "joined"}
    assert (await system_op(d, "joined"))["users"] == [dave]
    for conn in (o, a, d, stranger):
        await conn.close()


async def test_two_admins_answer_at_once_one_wins(server: Server, app: App,
                                                  users: Users) -> None:
    alice, bob, dave = users("alice"), users("bob"), users("dave")
    g, o, a = await public_group(server, app, alice, bob, [])
    d = await Conn.login(server, app, dave)
    await ok(d, "group_apply", {"group_id": g})
    first, second = await asyncio.gather(
        o.request("group_join_approve", {"group_id": g, "user_id": dave}),
        a.request("group_join_decline", {"group_id": g, "user_id": dave}))
    assert sorted([first["ok"], second["ok"]]) == [False, True], (first, second)
    loser = second if first["ok"] else first
    assert loser["error"]["code"] == 94052
    winner = (first if first["ok"] else second)["data"]
    members = [m["user_id"] for m in (await ok(o, "group_members", {"group_id": g}))["members"]]
    assert (dave in members) == (winner["state"] == "approved")
    for conn in (o, a, d):
        await conn.close()


async def test_an_invitation_ends_a_pending_application(server: Server, app: App,
                                                        users: Users) -> None:
    alice, bob, dave = users("alice"), users("bob"), users("dave")
    g, o, a = await public_group(server, app, alice, bob, [])
    d = await Conn.login(server, app, dave)
    await ok(d, "group_apply", {"group_id": g})
    await ok(a, "group_invite", {"group_id": g, "user_ids": [dave]})
    assert (await ok(o, "group_join_requests", {"group_id": g}))["requests"] == []
    assert (await ok(d, "group_applications", {}))["applications"] == []
    assert await code(o, "group_join_approve", {"group_id": g, "user_id": dave}) == 94051
    for conn in (o, a, d):
        await conn.close()


async def test_members_removed_while_offline_learn_it_on_reconnect(
        server: Server, app: App, users: Users) -> None:
    alice, bob, carol, erin = users("alice"), users("bob"), users("carol"), users("erin")
    o = await Conn.login(server, app, alice)
    g, gone = gid(), gid()
    await ok(o, "group_create", {"type": "Public", "group_id": g,
                                 "members": [bob, carol, erin]})
    await ok(o, "group_create", {"type": "Public", "group_id": gone, "members": [carol]})
    c = await Conn.login(server, app, carol)
    known = {f"group_{g}": 1, f"group_{gone}": 1}
    b = await Conn.login(server, app, bob, known={f"group_{g}": 1})
    e = await Conn.login(server, app, erin, known={f"group_{g}": 1})
    for conn in (b, c, e):
        await conn.close()
    kicked = await ok(o, "group_kick", {"group_id": g, "user_ids": [carol]})
    assert kicked["removed"] == [carol]
    e = await Conn.login(server, app, erin, sync=False)
    await ok(e, "group_leave", {"group_id": g})
    await e.close()
    await ok(o, "group_disband", {"group_id": gone})
    await ok(o, "send", {"conversation_id": f"group_{g}", "client_msg_id": uuid.uuid4().hex,
                         "elements": [{"type": "text", "text": "after"}]})
    # Carol comes back holding both groups: she learns how she left each.
    c = await Conn.login(server, app, carol, known=known)
    left = {x["group_id"]: x for x in c.last_sync["groups_left"]}
    assert set(left) == {g, gone}
    assert (left[g]["op"], left[g]["by"], left[g]["conversation_id"]) == (
        "kicked", alice, f"group_{g}")
    assert left[g]["seq"] == 2 and left[g]["time"] > 0
    assert left[gone]["op"] == "disbanded"
    assert [m for m in c.last_sync["messages"] if m["conversation_id"] == f"group_{g}"] == []
    # And she cannot read on.
    assert await code(c, "history", {"conversation_id": f"group_{g}"}) == 10011
    assert await code(c, "read", {"conversation_id": f"group_{g}"}) == 10011
    assert await code(c, "send", {"conversation_id": f"group_{g}", "client_msg_id": "x1",
                                  "elements": [{"type": "text", "text": "hi"}]}) == 10011
    e = await Conn.login(server, app, erin, known={f"group_{g}": 1})
    assert [(x["op"], x["by"]) for x in e.last_sync["groups_left"]] == [("left", erin)]
    # Bob, still a member, has nothing left; a group he never had is not his to ask about.
    b = await Conn.login(server, app, bob, known={f"group_{g}": 1, "group_nope": 3,
                                                  "c2c_x": 1, "group_ bad": 1})
    assert [x["group_id"] for x in b.last_sync["groups_left"]] == ["nope"]
    assert b.last_sync["groups_left"][0]["op"] == "disbanded"
    # Invited back, carol is a member again: nothing left to tell.
    await ok(o, "group_invite", {"group_id": g, "user_ids": [carol]})
    again = await ok(c, "sync", {"known": {f"group_{g}": 1}})
    assert again["groups_left"] == []
    for conn in (o, b, c, e):
        await conn.close()
