"""Recall and edit over the WebSocket: the sender changes their own message;
every device of both users learns of it live (a ``change`` event), and a
device that was away gets the change in its sync answer, in seq order with
the messages, each entry once, no gap. Refusals have stable codes and change
nothing."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest

from tests.gateway.test_history import _ok
from tests.gateway.test_resync import Device, check_contiguous
from tests.support import App, Conn, Server


@pytest.fixture
def app(shared_app: App) -> App:
    return shared_app


def _names(*users: str) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"{u}-{tag}" for u in users]


async def _sent(conn: Conn, conv: str, text: str, custom: str = "") -> dict[str, Any]:
    reply = await conn.request("send", {"conversation_id": conv, "client_msg_id": uuid.uuid4().hex,
                                        "elements": [{"type": "text", "text": text}],
                                        "cloud_custom_data": custom})
    assert reply["ok"], reply
    return reply["data"]  # type: ignore[no-any-return]


async def _code(conn: Conn, op: str, data: dict[str, Any]) -> int:
    reply = await conn.request(op, data)
    assert not reply["ok"], reply
    assert reply["error"]["message"]
    return int(reply["error"]["code"])


async def _history(conn: Conn, conv: str) -> list[dict[str, Any]]:
    return (await _ok(conn, "history", {"conversation_id": conv}))["messages"]  # type: ignore[no-any-return]


async def _state(conn: Conn, conv: str) -> dict[str, Any]:
    listed = await _ok(conn, "conversations", {})
    return next(c for c in listed["conversations"] if c["conversation_id"] == conv)


def _text(message: dict[str, Any]) -> str:
    return "".join(e.get("text", "") for e in message["elements"])


# -- live ---------------------------------------------------------------------------


async def test_recall_reaches_every_device_of_both_users(server: Server, app: App) -> None:
    alice, bob = _names("alice", "bob")
    phone = await Conn.login(server, app, alice)
    laptop = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    first = await _sent(phone, f"c2c_{bob}", "oops, wrong chat", custom='{"order":42}')
    for conn in (laptop, b):
        await conn.event("message")

    ack = await _ok(phone, "recall", {"conversation_id": f"c2c_{bob}", "seq": first["seq"]})
    assert ack["kind"] == "recall" and ack["duplicate"] is False
    assert (ack["seq"], ack["target_seq"], ack["by"]) == (2, 1, "sender")
    assert ack["conversation_id"] == f"c2c_{bob}"
    target = ack["target"]
    assert (target["state"], target["elements"], target["cloud_custom_data"]) == (
        "recalled", [], "")
    assert target["change_seq"] == 2 and target["msg_id"] == first["msg_id"]
    # The other devices of both users get the change live; the sending one
    # only its ack.
    on_laptop = await laptop.event("change")
    on_bob = await b.event("change")
    assert on_laptop == {k: v for k, v in ack.items() if k != "duplicate"}
    assert on_bob["conversation_id"] == f"c2c_{alice}"
    assert on_bob["target"]["conversation_id"] == f"c2c_{alice}"
    assert (on_bob["seq"], on_bob["target_seq"], on_bob["target"]["state"]) == (2, 1, "recalled")
    await phone.no_event("change", 0.2)

    # History keeps the message at its seq, recalled and empty; the change
    # entry is not a message of the history.
    for conn, peer in ((b, alice), (phone, bob)):
        [shown] = await _history(conn, f"c2c_{peer}")
        assert (shown["seq"], shown["state"], shown["elements"]) == (1, "recalled", [])
        state = await _state(conn, f"c2c_{peer}")
        assert state["last_seq"] == 2
        assert state["last_message"]["seq"] == 1
        assert state["last_message"]["state"] == "recalled"
    # Recalling again is no error: the first recall's answer, nothing new.
    again = await _ok(laptop, "recall", {"conversation_id": f"c2c_{bob}", "seq": 1})
    assert again["duplicate"] is True and again["seq"] == 2
    for conn in (phone, b):
        await conn.no_event("change", 0.2)
    # The next message follows the change in the seq stream.
    assert (await _sent(b, f"c2c_{alice}", "no worries"))["seq"] == 3
    for conn in (phone, laptop, b, ):
        await conn.close()


async def test_edit_reaches_every_device_and_keeps_what_it_does_not_replace(
        server: Server, app: App) -> None:
    alice, bob = _names("alice", "bob")
    a = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    sent = await _sent(a, f"c2c_{bob}", "lunch at 12?", custom="c1")
    await b.event("message")
    edit = await _ok(a, "edit", {"conversation_id": f"c2c_{bob}", "seq": sent["seq"],
                                 "elements": [{"type": "text", "text": "lunch at 12:30?"}]})
    assert (edit["kind"], edit["seq"], edit["target_seq"]) == ("edit", 2, 1)
    target = edit["target"]
    assert (target["state"], _text(target), target["cloud_custom_data"]) == (
        "edited", "lunch at 12:30?", "c1")
    assert target["edited_at"] >= sent["time"] and target["change_seq"] == 2
    got = await b.event("change")
    assert got["target"]["elements"] == [{"type": "text", "text": "lunch at 12:30?"}]
    # Only the custom data now: the elements stay.
    edit2 = await _ok(a, "edit", {"conversation_id": f"c2c_{bob}", "seq": 1,
                                  "cloud_custom_data": "c2"})
    assert (edit2["seq"], edit2["target"]["change_seq"]) == (3, 3)
    assert (_text(edit2["target"]), edit2["target"]["cloud_custom_data"]) == (
        "lunch at 12:30?", "c2")
    assert (await b.event("change"))["seq"] == 3
    [shown] = await _history(b, f"c2c_{alice}")
    assert (shown["state"], _text(shown), shown["cloud_custom_data"]) == (
        "edited", "lunch at 12:30?", "c2")
    # An edited message can be recalled; a recalled one cannot be edited.
    await _ok(a, "recall", {"conversation_id": f"c2c_{bob}", "seq": 1})
    assert await _code(a, "edit", {"conversation_id": f"c2c_{bob}", "seq": 1,
                                   "cloud_custom_data": "c3"}) == 20023
    [shown] = await _history(b, f"c2c_{alice}")
    assert (shown["state"], shown["elements"], shown["cloud_custom_data"]) == (
        "recalled", [], "")
    await a.close()
    await b.close()


# -- refusals -----------------------------------------------------------------------


async def test_refused_changes_change_nothing(server: Server, app: App) -> None:
    alice, bob, carol = _names("alice", "bob", "carol")
    a = await Conn.login(server, app, alice)
    b = await Conn.login(server, app, bob)
    c = await Conn.login(server, app, carol)
    mine = await _sent(a, f"c2c_{bob}", "from alice")
    theirs = await _sent(b, f"c2c_{alice}", "from bob")
    conv = f"c2c_{bob}"
    text = [{"type": "text", "text": "x"}]
    refusals = [
        # someone else's message
        ("recall", {"conversation_id": conv, "seq": theirs["seq"]}, 10013),
        ("edit", {"conversation_id": conv, "seq": theirs["seq"], "elements": text}, 10013),
        # no such message, in this conversation or at all
        ("recall", {"conversation_id": conv, "seq": 99}, 20022),
        ("recall", {"conversation_id": conv, "seq": 2**63}, 20022),
        ("recall", {"conversation_id": f"c2c_{carol}", "seq": 1}, 20022),
        ("edit", {"conversation_id": f"c2c_{carol}", "seq": 1, "elements": text}, 20022),
        # malformed
        ("recall", {"conversation_id": conv, "seq": 0}, 10002),
        ("recall", {"conversation_id": conv}, 10002),
        ("recall", {"conversation_id": conv, "seq": "1"}, 10002),
        ("recall", {"conversation_id": conv, "seq": 1, "x": 1}, 10002),
        ("recall", {"conversation_id": f"c2c_{alice}", "seq": 1}, 10009),
        ("recall", {"conversation_id": "nope", "seq": 1}, 10009),
        ("edit", {"conversation_id": conv, "seq": 1}, 10002),
        ("edit", {"conversation_id": conv, "seq": 1, "elements": []}, 90002),
        ("edit", {"conversation_id": conv, "seq": 1, "elements": [{"type": "nope"}]}, 90002),
        ("edit", {"conversation_id": conv, "seq": 1, "cloud_custom_data": 5}, 10002),
        # too big, alone or with the part it keeps
        ("edit", {"conversation_id": conv, "seq": 1, "cloud_custom_data": "x" * 13000}, 80002),
        ("edit", {"conversation_id": conv, "seq": 1,
                  "elements": [{"type": "text", "text": "y" * 12300}]}, 80002),
    ]
    for op, data, code in refusals:
        assert await _code(a, op, data) == code, (op, data)
    # Carol is in no conversation with these messages: not found for her.
    assert await _code(c, "recall", {"conversation_id": f"c2c_{alice}", "seq": 1}) == 20022
    assert await _code(c, "recall", {"conversation_id": f"c2c_{bob}", "seq": 2}) == 20022
    # The custom data of a message is kept by an elements-only edit, so the
    # sum may pass the limit: refused too.
    big = await _sent(a, conv, "small", custom="z" * 12000)
    assert await _code(a, "edit", {"conversation_id": conv, "seq": big["seq"],
                                   "elements": [{"type": "text", "text": "w" * 400}]}) == 80002
    # A change entry is not a message: it cannot be recalled or edited.
    change = await _ok(a, "recall", {"conversation_id": conv, "seq": big["seq"]})
    assert await _code(a, "recall", {"conversation_id": conv, "seq": change["seq"]}) == 20022
    # Nothing else changed: both messages as sent, no entry used up.
    shown = await _history(b, f"c2c_{alice}")
    assert [(m["seq"], m["state"], _text(m)) for m in shown] == [
        (mine["seq"], "normal", "from alice"), (theirs["seq"], "normal", "from bob"),
        (3, "recalled", "")]
    assert (await _state(a, conv))["last_seq"] == 4
    assert (await _sent(a, conv, "next"))["seq"] == 5
    for conn in (a, b, c):
        await conn.close()


async def _server_now(conn: Conn) -> int:
    return int((await _ok(conn, "ping", {}))["server_time"])


async def test_windows(make_server: Any) -> None:
    server: Server = make_server(recall_window="1", edit_window="1.5")
    app = server.create_app()
    alice, bob = "alice", "bob"
    a = await Conn.login(server, app, alice)
    sent = await _sent(a, f"c2c_{bob}", "quick")
    late = await _sent(a, f"c2c_{bob}", "slow")
    # Within the window both work.
    await _ok(a, "edit", {"conversation_id": f"c2c_{bob}", "seq": sent["seq"],
                          "cloud_custom_data": "e"})
    await _ok(a, "recall", {"conversation_id": f"c2c_{bob}", "seq": sent["seq"]})
    deadline = time.monotonic() + 10
    while await _server_now(a) <= late["time"] + 1000:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert await _code(a, "recall", {"conversation_id": f"c2c_{bob}", "seq": late["seq"]}) \
        == 20016
    # A recall that happened in time is still answered after the window.
    again = await _ok(a, "recall", {"conversation_id": f"c2c_{bob}", "seq": sent["seq"]})
    assert again["duplicate"] is True
    await _ok(a, "edit", {"conversation_id": f"c2c_{bob}", "seq": late["seq"],
                          "cloud_custom_data": "still in time for an edit"})
    while await _server_now(a) <= late["time"] + 1500:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert await _code(a, "edit", {"conversation_id": f"c2c_{bob}", "seq": late["seq"],
                                   "cloud_custom_data": "too late"}) == 20016
    [_, shown] = await _history(a, f"c2c_{bob}")
    assert (shown["state"], shown["cloud_custom_data"]) == ("edited",
                                                           "still in time for an edit")
    await a.close()


# -- catching up --------------------------------------------------------------------


class Recorder(Device):
    """The resync tests' recording device, counting ``change`` events too."""

    def entries(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        live = False
        for doc in self.log:
            if doc.get("re") in self.sync_ids:
                got.extend(doc["data"]["messages"])
                live = not doc["data"]["more"]
            elif doc.get("event") in ("message", "change"):
                assert live, f"pushed outside live mode: {doc}"
                got.append(doc["data"])
        return got


def _apply(held: dict[str, dict[int, dict[str, Any]]], entries: list[dict[str, Any]]) -> None:
    """What a client does with what it gets: keep messages, apply changes to
    the copy it holds when the change's copy is newer."""
    for e in entries:
        conv = held.setdefault(e["conversation_id"], {})
        if e["kind"] == "message":
            conv[e["seq"]] = e
        else:
            mine = conv.get(e["target_seq"])
            if mine is None or e["target"]["change_seq"] >= mine["change_seq"]:
                conv[e["target_seq"]] = e["target"]


async def test_device_that_was_away_gets_the_changes_in_order(server: Server, app: App) -> None:
    alice, bob = _names("alice", "bob")
    a = await Conn.login(server, app, alice)
    for i in range(4):
        await _sent(a, f"c2c_{bob}", f"m{i}")
    device = await Recorder.login(server, app, bob)
    await device.sync_all({})
    known = check_contiguous(device.entries(), {})
    held: dict[str, dict[int, dict[str, Any]]] = {}
    _apply(held, device.entries())
    await device.close(abort=True)

    # Away: an edit, a recall, an edit later recalled, and a new message.
    conv = f"c2c_{bob}"
    await _ok(a, "edit", {"conversation_id": conv, "seq": 1,
                          "elements": [{"type": "text", "text": "m0 (edited)"}]})
    await _ok(a, "recall", {"conversation_id": conv, "seq": 2})
    await _ok(a, "edit", {"conversation_id": conv, "seq": 3, "cloud_custom_data": "secret"})
    await _ok(a, "recall", {"conversation_id": conv, "seq": 3})
    await _sent(a, conv, "m4")

    device = await Recorder.login(server, app, bob)
    [answer] = await device.sync_all(known)
    got = [(e["seq"], e["kind"], e.get("target_seq")) for e in answer["messages"]]
    assert got == [(5, "edit", 1), (6, "recall", 2), (7, "edit", 3), (8, "recall", 3),
                   (9, "message", None)]
    # Each change carries its message as it stands now: the edit of seq 3
    # does not bring back content that a later recall removed.
    assert answer["messages"][2]["target"]["state"] == "recalled"
    assert answer["messages"][2]["target"]["cloud_custom_data"] == ""
    # Live after it, in the same stream.
    await _ok(a, "edit", {"conversation_id": conv, "seq": 4, "cloud_custom_data": "live"})
    await device.listen(0.3)
    known = check_contiguous(device.entries(), known)
    assert known == {f"c2c_{alice}": 10}
    _apply(held, device.entries())
    history = {m["seq"]: m for m in await _history(a, conv)}
    mine = held[f"c2c_{alice}"]
    assert sorted(mine) == sorted(history) == [1, 2, 3, 4, 9]
    for seq, m in history.items():
        assert (mine[seq]["state"], mine[seq]["elements"], mine[seq]["cloud_custom_data"],
                mine[seq]["change_seq"]) == (m["state"], m["elements"],
                                             m["cloud_custom_data"], m["change_seq"]), seq
    await device.close()
    await a.close()


async def test_reconnects_while_messages_change_get_every_entry_once(
        server: Server, app: App) -> None:
    """Two peers keep sending and changing their own recent messages while
    two devices of the receiver drop and resume their connections. Every
    connection gets exactly the next seqs of the stream (messages and
    changes), and what each device holds in the end, changes applied, is
    what history shows."""
    rx, s1, s2 = _names("rx", "s1", "s2")
    c1 = await Conn.login(server, app, s1)
    c2 = await Conn.login(server, app, s2)
    await _sent(c1, f"c2c_{rx}", "warm1")
    await _sent(c2, f"c2c_{rx}", "warm2")
    first = await Recorder.login(server, app, rx)
    await first.sync_all({})
    start = check_contiguous(first.entries(), {})
    assert start == {f"c2c_{s1}": 1, f"c2c_{s2}": 1}
    base: dict[str, dict[int, dict[str, Any]]] = {}
    _apply(base, first.entries())
    await first.close()
    stop = asyncio.Event()

    async def stream(conn: Conn, conv: str) -> int:
        n = 0
        mine: list[int] = []
        while not stop.is_set():
            mine.append((await _sent(conn, conv, f"n{n}"))["seq"])
            if n % 3 == 1:
                await _ok(conn, "edit", {"conversation_id": conv, "seq": mine[-2],
                                         "cloud_custom_data": f"edit{n}"})
            if n % 5 == 4:
                await _ok(conn, "recall", {"conversation_id": conv, "seq": mine[-3]})
            n += 1
            await asyncio.sleep(0.01)
        return n

    senders = [asyncio.create_task(stream(c1, f"c2c_{rx}")),
               asyncio.create_task(stream(c2, f"c2c_{rx}"))]

    async def keep_reconnecting() -> tuple[dict[str, int], dict[str, dict[int, Any]]]:
        known = dict(start)
        held = {conv: dict(messages) for conv, messages in base.items()}
        for cycle in range(8):
            device = await Recorder.login(server, app, rx)
            await device.sync_all(known)
            await device.listen(0.03 * (cycle % 4))
            known = check_contiguous(device.entries(), known)
            _apply(held, device.entries())
            await device.close(abort=cycle % 2 == 0)
        return known, held

    try:
        results = await asyncio.gather(keep_reconnecting(), keep_reconnecting())
        assert not any(t.done() for t in senders)
    finally:
        stop.set()
        counts = await asyncio.gather(*senders)
    assert min(counts) > 5, counts
    rx_conn = await Conn.login(server, app, rx)
    for known, held in results:
        device = await Recorder.login(server, app, rx)
        await device.sync_all(known)
        known = check_contiguous(device.entries(), known)
        _apply(held, device.entries())
        await device.close()
        for peer in (s1, s2):
            conv = f"c2c_{peer}"
            state = await _state(rx_conn, conv)
            assert known[conv] == state["last_seq"]
            history: dict[int, dict[str, Any]] = {}
            before = None
            while True:
                page = await _ok(rx_conn, "history", {"conversation_id": conv,
                                                      "before_seq": before, "limit": 200})
                history.update((m["seq"], m) for m in page["messages"])
                if not page["more"]:
                    break
                before = page["messages"][0]["seq"]
            kinds: dict[str, int] = defaultdict(int)
            for seq, m in history.items():
                kinds[m["state"]] += 1
                assert (held[conv][seq]["state"], held[conv][seq]["elements"],
                        held[conv][seq]["cloud_custom_data"]) == (
                    m["state"], m["elements"], m["cloud_custom_data"]), (conv, seq)
            assert set(held[conv]) == set(history)
            assert kinds["recalled"] > 0 and kinds["edited"] > 0, kinds
    await rx_conn.close()
    await c1.close()
    await c2.close()
