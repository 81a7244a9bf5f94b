"""Group read receipts: per-message read and unread counts from the members'
cursors, who has read, live ``group_receipts`` events to the sender, the
app's size limit, and the refusals (non-members, other members asking who
read someone else's message, bad seqs), over the socket and REST."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.test_changes import _code as code
from tests.gateway.test_history import _ok as ok
from tests.support import App, Conn, Server, error_of

Users = Callable[[str], str]


@pytest.fixture
def app(shared_app: App) -> App:
    return shared_app


def gid() -> str:
    return f"rc-{uuid.uuid4().hex[:12]}"


async def say(conn: Conn, group: str, text: str) -> int:
    reply = await conn.send_text(f"group_{group}", text)
    assert reply["ok"], reply
    return int(reply["data"]["seq"])


def counts(found: list[dict[str, Any]]) -> dict[int, tuple[int, int]]:
    return {r["seq"]: (r["read_count"], r["unread_count"]) for r in found}


async def test_counts_readers_and_live_receipts(server: Server, app: App,
                                                users: Users) -> None:
    alice, bob, carol, dave, erin = (users(n) for n in ("alice", "bob", "carol", "dave",
                                                         "erin"))
    a = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    c = await Conn.login(server, app, carol)
    g = gid()
    try:
        await ok(a, "group_create", {"type": "Work", "group_id": g,
                                     "members": [bob, carol, dave]})
        s1 = await say(a, g, "one")
        s2 = await say(a, g, "two")
        got = await ok(b, "group_receipts", {"group_id": g, "seqs": [1, s1, s2, 999]})
        # The creation entry (seq 1) and a seq past the end are no messages.
        assert counts(got["receipts"]) == {s1: (0, 3), s2: (0, 3)}

        await ok(b, "read", {"conversation_id": f"group_{g}", "seq": s2})
        event = await a.event("group_receipts")
        assert event["conversation_id"] == f"group_{g}"
        assert counts(event["receipts"]) == {s1: (1, 2), s2: (1, 2)}
        await ok(c, "read", {"conversation_id": f"group_{g}", "seq": s1})
        assert counts((await a.event("group_receipts"))["receipts"]) == {s1: (2, 1)}
        # Reading again where nothing moved tells nobody anything.
        await ok(c, "read", {"conversation_id": f"group_{g}", "seq": s1})
        await a.no_event("group_receipts")

        readers = await ok(a, "group_readers", {"group_id": g, "seq": s1})
        assert (readers["users"], readers["read_count"], readers["more"]) == (
            sorted([bob, carol]), 2, False)
        unread = await ok(a, "group_readers", {"group_id": g, "seq": s1, "read": False})
        assert unread["users"] == [dave] and unread["unread_count"] == 1
        page = await ok(a, "group_readers", {"group_id": g, "seq": s1, "limit": 1})
        assert page["users"] == [min(bob, carol)] and page["more"] is True

        # A member joining later does not count for earlier messages (Work
        # groups show history from the join only), but does for later ones.
        await ok(a, "group_invite", {"group_id": g, "user_ids": [erin]})
        s4 = await say(b, g, "three")
        got = await ok(c, "group_receipts", {"group_id": g, "seqs": [s1, s4]})
        assert counts(got["receipts"]) == {s1: (2, 1), s4: (0, 4)}
        # Bob's own message: alice reading it tells bob, not alice.
        await ok(a, "read", {"conversation_id": f"group_{g}"})
        assert counts((await b.event("group_receipts"))["receipts"]) == {s4: (1, 3)}

        # Who read whom: only the sender, the owner and admins.
        assert await code(c, "group_readers", {"group_id": g, "seq": s4}) == 10007
        assert (await ok(a, "group_readers", {"group_id": g, "seq": s4}))["users"] == [alice]
        assert (await ok(b, "group_readers", {"group_id": g, "seq": s4}))["users"] == [alice]
        # Refusals and bad input.
        e = await Conn.login(server, app, users("eve"))
        try:
            assert await code(e, "group_receipts", {"group_id": g, "seqs": [s1]}) == 10011
            assert await code(e, "group_readers", {"group_id": g, "seq": s1}) == 10011
        finally:
            await e.close()
        assert await code(a, "group_receipts", {"group_id": gid(), "seqs": [1]}) == 10010
        for bad in ([], [0], [-3], list(range(1, 102)), ["x"], [2**63]):
            assert await code(a, "group_receipts", {"group_id": g, "seqs": bad}) == 10002
        assert await code(a, "group_readers", {"group_id": g, "seq": 1}) == 20022
        assert await code(a, "group_readers", {"group_id": g, "seq": 10**6}) == 20022
        assert await code(a, "group_readers", {"group_id": g, "seq": s1,
                                               "limit": 0}) == 10002
    finally:
        for conn in (a, b, c):
            await conn.close()


async def test_rest_admin_and_the_apps_size_limit(server: Server, users: Users) -> None:
    app = server.create_app("Receipts")
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    admin = server.http(app, app.admin)
    a, b = server.http(app, alice), server.http(app, bob)
    g = gid()
    assert admin.post("/v1/admin/groups", json={"type": "Public", "group_id": g,
                                                "owner": alice,
                                                "members": [bob, carol]}).status_code == 200
    sent = a.post("/v1/messages", json={"conversation_id": f"group_{g}", "client_msg_id": "x1",
                                        "elements": [{"type": "text", "text": "hi"}]})
    seq = sent.json()["seq"]
    assert b.post(f"/v1/conversations/group_{g}/read", json={"seq": seq}).status_code == 200
    got = b.get(f"/v1/groups/{g}/receipts", params={"seqs": f"{seq},{seq}"}).json()
    assert got == {"receipts": [{"seq": seq, "read_count": 1, "unread_count": 1}]}
    assert admin.get(f"/v1/admin/groups/{g}/messages/{seq}/readers").json()["users"] == [bob]
    assert error_of(b.get(f"/v1/groups/{g}/messages/{seq}/readers")) == (403, 10007)
    assert error_of(b.get(f"/v1/groups/{g}/receipts", params={"seqs": "1,x"})) == (400, 10002)
    assert error_of(b.get(f"/v1/groups/{g}/messages/abc/readers"))[1] == 10002

    # The app's limit: default 200; a group over it keeps no receipts.
    settings = admin.get("/v1/admin/group-settings").json()
    assert settings == {"default_members": [], "read_receipts_max_members": 200}
    assert admin.put("/v1/admin/group-settings",
                     json={"default_members": ["guest"]}).status_code == 200
    changed = admin.put("/v1/admin/group-settings", json={"read_receipts_max_members": 2})
    assert changed.json() == {"default_members": ["guest"], "read_receipts_max_members": 2}
    status, number = error_of(b.get(f"/v1/groups/{g}/receipts", params={"seqs": str(seq)}))
    assert (status, number) == (409, 94100)
    assert error_of(admin.get(f"/v1/admin/groups/{g}/messages/{seq}/readers"))[1] == 94100
    assert error_of(admin.put("/v1/admin/group-settings",
                              json={"read_receipts_max_members": -1})) == (400, 10002)
    back = admin.put("/v1/admin/group-settings", json={"read_receipts_max_members": None})
    assert back.json()["read_receipts_max_members"] == 200
    assert b.get(f"/v1/groups/{g}/receipts", params={"seqs": str(seq)}).status_code == 200

    # Off (0): no live events either.
    admin.put("/v1/admin/group-settings", json={"read_receipts_max_members": 0})
    conn = await Conn.login(server, app, alice)
    try:
        second = await say(conn, g, "again")
        assert server.http(app, carol).post(f"/v1/conversations/group_{g}/read",
                                            json={"seq": second}).status_code == 200
        await conn.no_event("group_receipts")
    finally:
        await conn.close()


async def test_no_live_receipts_over_the_apps_limit(server: Server, users: Users) -> None:
    """A group over the app's limit (not 0) sends its senders nothing on a
    read; once the limit fits it again, the next read is told at once."""
    app = server.create_app("ReceiptsOver")
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    admin = server.http(app, app.admin)
    assert admin.put("/v1/admin/group-settings",
                     json={"read_receipts_max_members": 2}).status_code == 200
    a = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    g = gid()
    try:
        await ok(a, "group_create", {"type": "Work", "group_id": g, "members": [bob, carol]})
        s1 = await say(a, g, "one")
        await ok(b, "read", {"conversation_id": f"group_{g}", "seq": s1})
        await a.no_event("group_receipts")
        assert await code(b, "group_receipts", {"group_id": g, "seqs": [s1]}) == 94100

        assert admin.put("/v1/admin/group-settings",
                         json={"read_receipts_max_members": 3}).status_code == 200
        s2 = await say(a, g, "two")
        await ok(b, "read", {"conversation_id": f"group_{g}", "seq": s2})
        assert counts((await a.event("group_receipts"))["receipts"]) == {s2: (1, 1)}
    finally:
        for conn in (a, b):
            await conn.close()
