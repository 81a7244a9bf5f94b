"""History, the conversation list and read cursors over the socket (issue 2,
point 8)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.support import App, Conn, Server


def _prefix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def app(shared_app: App) -> App:
    """One app per server for the module; tests keep apart by user ids."""
    return shared_app


async def _send(conn: Conn, conv: str, text: str) -> dict[str, Any]:
    reply = await conn.send_text(conv, text, client_msg_id=f"{conv}:{text}")
    assert reply["ok"], reply
    return reply["data"]  # type: ignore[no-any-return]


async def _ok(conn: Conn, op: str, data: dict[str, Any]) -> dict[str, Any]:
    reply = await conn.request(op, data)
    assert reply["ok"], reply
    return reply["data"]  # type: ignore[no-any-return]


async def test_history_pages_back_to_the_first_message(server: Server, app: App) -> None:
    p = _prefix()
    alice, bob = f"{p}alice", f"{p}bob"
    a = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    acks = [await _send(a if i % 3 else b, f"c2c_{bob}" if i % 3 else f"c2c_{alice}", f"m{i}")
            for i in range(7)]
    assert [x["seq"] for x in acks] == [1, 2, 3, 4, 5, 6, 7]

    page = await _ok(b, "history", {"conversation_id": f"c2c_{alice}", "limit": 3})
    assert [m["seq"] for m in page["messages"]] == [5, 6, 7] and page["more"] is True
    page = await _ok(b, "history", {"conversation_id": f"c2c_{alice}", "limit": 3,
                                    "before_seq": 5})
    assert [m["seq"] for m in page["messages"]] == [2, 3, 4] and page["more"] is True
    page = await _ok(b, "history", {"conversation_id": f"c2c_{alice}", "limit": 3,
                                    "before_seq": 2})
    assert [m["seq"] for m in page["messages"]] == [1] and page["more"] is False
    page = await _ok(b, "history", {"conversation_id": f"c2c_{alice}", "limit": 3,
                                    "before_seq": 1})
    assert page == {"messages": [], "more": False}
    # A page that ends exactly at the first message says there is no more.
    page = await _ok(b, "history", {"conversation_id": f"c2c_{alice}", "limit": 4,
                                    "before_seq": 5})
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4] and page["more"] is False

    # The whole conversation, as each side names it, with what was sent.
    whole = await _ok(a, "history", {"conversation_id": f"c2c_{bob}"})
    assert whole["more"] is False
    assert [(m["seq"], m["sender"], m["client_msg_id"], m["elements"][0]["text"])
            for m in whole["messages"]] == [
        (i + 1, alice if i % 3 else bob, f"{f'c2c_{bob}' if i % 3 else f'c2c_{alice}'}:m{i}",
         f"m{i}") for i in range(7)]
    assert {m["conversation_id"] for m in whole["messages"]} == {f"c2c_{bob}"}
    assert [m["msg_id"] for m in whole["messages"]] == [x["msg_id"] for x in acks]
    theirs = await _ok(b, "history", {"conversation_id": f"c2c_{alice}"})
    assert {m["conversation_id"] for m in theirs["messages"]} == {f"c2c_{alice}"}
    assert [m["msg_id"] for m in theirs["messages"]] == [x["msg_id"] for x in acks]

    # A conversation that does not exist is empty; bad limits are refused.
    empty = await _ok(a, "history", {"conversation_id": f"c2c_{p}nobody"})
    assert empty == {"messages": [], "more": False}
    for bad in ({"conversation_id": f"c2c_{bob}", "limit": -1},
                {"conversation_id": f"c2c_{bob}", "limit": 100_000},
                {"conversation_id": f"c2c_{bob}", "limit": "3"},
                {"conversation_id": "c2c_"}):
        reply = await a.request("history", bad)
        assert not reply["ok"], (bad, reply)
        assert reply["error"]["code"] in (10002, 10009), (bad, reply)
    for conn in (a, b):
        await conn.close()


async def test_history_is_only_for_members(server: Server, app: App) -> None:
    p = _prefix()
    alice, bob, eve = f"{p}alice", f"{p}bob", f"{p}eve"
    a = await Conn.login(server, app, alice)
    await _send(a, f"c2c_{bob}", "secret")
    e = await Conn.login(server, app, eve)
    # Eve can only name her own conversations; none with alice exists.
    page = await _ok(e, "history", {"conversation_id": f"c2c_{alice}"})
    assert page["messages"] == []
    listed = await _ok(e, "conversations", {})
    assert listed["conversations"] == []
    await a.close()
    await e.close()


async def test_conversations_sorted_by_last_activity(server: Server, app: App) -> None:
    p = _prefix()
    me, ann, ben, cat = f"{p}me", f"{p}ann", f"{p}ben", f"{p}cat"
    m = await Conn.login(server, app, me)
    peers = {u: await Conn.login(server, app, u) for u in (ann, ben, cat)}
    times: list[int] = []

    async def say(conn: Conn, conv: str, text: str) -> dict[str, Any]:
        # Activity is ordered by the stored time, in milliseconds: keep the
        # steps of this test at least a tick apart.
        await asyncio.sleep(0.002)
        ack = await _send(conn, conv, text)
        assert not times or ack["time"] > times[-1]
        times.append(ack["time"])
        return ack

    await say(peers[ann], f"c2c_{me}", "a1")
    await say(peers[ann], f"c2c_{me}", "a2")
    await say(peers[ben], f"c2c_{me}", "b1")
    await say(peers[cat], f"c2c_{me}", "c1")
    await say(m, f"c2c_{ben}", "to ben")

    listed = (await _ok(m, "conversations", {}))["conversations"]
    order = [c["conversation_id"] for c in listed]
    assert order == [f"c2c_{ben}", f"c2c_{cat}", f"c2c_{ann}"]
    by_id = {c["conversation_id"]: c for c in listed}
    ann_c, ben_c, cat_c = by_id[f"c2c_{ann}"], by_id[f"c2c_{ben}"], by_id[f"c2c_{cat}"]
    assert ann_c["type"] == "c2c"
    assert (ann_c["last_seq"], ann_c["read_seq"], ann_c["unread"]) == (2, 0, 2)
    assert ann_c["last_message"]["seq"] == 2
    assert ann_c["last_message"]["elements"][0]["text"] == "a2"
    assert ann_c["last_message"]["sender"] == ann
    assert cat_c["unread"] == 1 and cat_c["last_message"]["elements"][0]["text"] == "c1"
    # Writing in a conversation reads it up to there.
    assert (ben_c["last_seq"], ben_c["read_seq"], ben_c["unread"]) == (2, 2, 0)
    assert ben_c["last_message"]["sender"] == me
    assert [c["last_time"] for c in listed] == sorted((c["last_time"] for c in listed),
                                                       reverse=True)

    # New activity moves a conversation to the top; the limit cuts the list.
    await say(peers[ann], f"c2c_{me}", "a3")
    listed = (await _ok(m, "conversations", {"limit": 2}))["conversations"]
    assert [c["conversation_id"] for c in listed] == [f"c2c_{ann}", f"c2c_{ben}"]
    assert listed[0]["unread"] == 3
    # The peer's side of the same conversation.
    theirs = (await _ok(peers[ann], "conversations", {}))["conversations"]
    assert [(c["conversation_id"], c["unread"]) for c in theirs] == [(f"c2c_{me}", 0)]
    reply = await m.request("conversations", {"limit": -1})
    assert not reply["ok"] and reply["error"]["code"] == 10002
    for conn in (m, *peers.values()):
        await conn.close()


async def test_read_moves_the_cursor_forward_and_tells_other_devices(server: Server,
                                                                    app: App) -> None:
    p = _prefix()
    alice, bob = f"{p}alice", f"{p}bob"
    a = await Conn.login(server, app, alice)
    b1 = await Conn.login(server, app, bob)
    b2 = await Conn.login(server, app, bob)
    for i in range(5):
        await _send(a, f"c2c_{bob}", f"m{i}")
    for device in (b1, b2):
        for _ in range(5):
            await device.event("message")

    got = await _ok(b1, "read", {"conversation_id": f"c2c_{alice}", "seq": 3})
    assert got == {"conversation_id": f"c2c_{alice}", "read_seq": 3, "unread": 2}
    told = await b2.event("read")
    assert told == {"conversation_id": f"c2c_{alice}", "read_seq": 3, "unread": 2}
    await b1.no_event("read", 0.2)  # the reader's device has its answer
    await a.no_event("read", 0.05)  # another user's cursor is not alice's

    # Never back: an older seq leaves the cursor where it is.
    got = await _ok(b2, "read", {"conversation_id": f"c2c_{alice}", "seq": 1})
    assert got["read_seq"] == 3 and got["unread"] == 2
    told = await b1.event("read")
    assert told["read_seq"] == 3
    # A seq past the end stops at the last message; no seq means all.
    got = await _ok(b1, "read", {"conversation_id": f"c2c_{alice}", "seq": 4})
    assert (got["read_seq"], got["unread"]) == (4, 1)
    assert (await b2.event("read"))["read_seq"] == 4
    got = await _ok(b1, "read", {"conversation_id": f"c2c_{alice}", "seq": 99})
    assert (got["read_seq"], got["unread"]) == (5, 0)
    assert (await b2.event("read"))["read_seq"] == 5
    await _send(a, f"c2c_{bob}", "m5")
    got = await _ok(b2, "read", {"conversation_id": f"c2c_{alice}"})
    assert (got["read_seq"], got["unread"]) == (6, 0)
    assert (await b1.event("read"))["read_seq"] == 6

    # The cursor is stored: the list and a fresh device's sync show it.
    listed = (await _ok(b2, "conversations", {}))["conversations"]
    assert [(c["read_seq"], c["unread"]) for c in listed] == [(6, 0)]
    fresh = await Conn.login(server, app, bob)
    [state] = fresh.last_sync["conversations"]
    assert (state["read_seq"], state["unread"]) == (6, 0)
    # Alice's own cursor did not move with bob's.
    theirs = (await _ok(a, "conversations", {}))["conversations"]
    assert theirs[0]["read_seq"] == 6  # she wrote all six

    # Bad reads change nothing.
    for bad, code in (({"conversation_id": f"c2c_{alice}", "seq": -1}, 10002),
                      ({"conversation_id": f"c2c_{alice}", "seq": "2"}, 10002),
                      ({"conversation_id": f"c2c_{alice}", "sq": 2}, 10002),
                      ({"conversation_id": "c2c_"}, 10009)):
        reply = await b1.request("read", bad)
        assert not reply["ok"] and reply["error"]["code"] == code, (bad, reply)
    # Nor does reading a conversation that does not exist: it is refused or
    # answered as empty, and it is not created.
    reply = await b1.request("read", {"conversation_id": f"c2c_{p}nobody", "seq": 1})
    if reply["ok"]:
        assert (reply["data"]["read_seq"], reply["data"]["unread"]) == (0, 0), reply
    else:
        assert reply["error"]["code"] == 10010, reply
    listed = (await _ok(b1, "conversations", {}))["conversations"]
    assert [(c["conversation_id"], c["read_seq"], c["unread"]) for c in listed] == [
        (f"c2c_{alice}", 6, 0)]
    for conn in (a, b1, b2, fresh):
        await conn.close()


async def test_read_over_rest_tells_every_socket_device(server: Server, app: App) -> None:
    p = _prefix()
    alice, bob = f"{p}alice", f"{p}bob"
    a = await Conn.login(server, app, alice)
    b1 = await Conn.login(server, app, bob)
    await _send(a, f"c2c_{bob}", "hello")
    with server.http(app, bob) as http:
        reply = http.post(f"/v1/conversations/c2c_{alice}/read", json={"seq": 1})
    assert reply.status_code == 200, reply.text
    assert (await b1.event("read"))["read_seq"] == 1
    await a.close()
    await b1.close()


async def test_history_around_a_message_pages_both_ways(server: Server, app: App) -> None:
    """``around_seq``: the page around a message older than a client holds
    (a search hit, a quote): it and the ones before it, then the ones after
    it, change entries skipped; ``more`` and ``newer`` say what remains."""
    p = _prefix()
    alice, bob = f"{p}alice", f"{p}bob"
    a = await Conn.login(server, app, alice)
    conv = f"c2c_{bob}"
    for i in range(1, 7):
        await _send(a, conv, f"m{i}")
    edit = await _ok(a, "edit", {"conversation_id": conv, "seq": 2,
                                 "elements": [{"type": "text", "text": "m2 edited"}]})
    assert edit["seq"] == 7  # a change entry: not listed, its effect is
    for i in range(8, 11):
        await _send(a, conv, f"m{i}")

    def seqs(page: dict[str, Any]) -> list[int]:
        return [m["seq"] for m in page["messages"]]

    page = await _ok(a, "history", {"conversation_id": conv, "around_seq": 5, "limit": 4})
    assert seqs(page) == [4, 5, 6, 8] and (page["more"], page["newer"]) == (True, True)
    page = await _ok(a, "history", {"conversation_id": conv, "around_seq": 7, "limit": 4})
    assert seqs(page) == [5, 6, 8, 9] and (page["more"], page["newer"]) == (True, True)
    # Near the first message the page fills up after it; near the last, before it.
    page = await _ok(a, "history", {"conversation_id": conv, "around_seq": 2, "limit": 5})
    assert seqs(page) == [1, 2, 3, 4, 5] and (page["more"], page["newer"]) == (False, True)
    assert page["messages"][1]["elements"][0]["text"] == "m2 edited"
    page = await _ok(a, "history", {"conversation_id": conv, "around_seq": 10, "limit": 4})
    assert seqs(page) == [6, 8, 9, 10] and (page["more"], page["newer"]) == (True, False)
    # Past the end: the newest messages, none newer.
    page = await _ok(a, "history", {"conversation_id": conv, "around_seq": 10**12, "limit": 2})
    assert seqs(page) == [9, 10] and (page["more"], page["newer"]) == (True, False)
    page = await _ok(a, "history", {"conversation_id": conv, "around_seq": 3})
    assert seqs(page) == [1, 2, 3, 4, 5, 6, 8, 9, 10] and (page["more"], page["newer"]) == (
        False, False)
    # Without around_seq the reply has no ``newer``.
    assert "newer" not in await _ok(a, "history", {"conversation_id": conv, "limit": 1})
    # Not a member: an empty page, as for before_seq.
    e = await Conn.login(server, app, f"{p}eve")
    assert await _ok(e, "history", {"conversation_id": f"c2c_{alice}", "around_seq": 3}) == {
        "messages": [], "more": False, "newer": False}
    # One anchor or the other; a seq below 1 is refused.
    for bad in ({"conversation_id": conv, "around_seq": 3, "before_seq": 5},
                {"conversation_id": conv, "around_seq": 0},
                {"conversation_id": conv, "around_seq": "3"}):
        reply = await a.request("history", bad)
        assert not reply["ok"] and reply["error"]["code"] == 10002, (bad, reply)
    for conn in (a, e):
        await conn.close()
