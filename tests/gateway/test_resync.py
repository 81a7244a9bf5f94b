"""A device comes back and catches up (issue 2, point 7).

After login the device sends ``sync`` with ``known`` = {conversation: last seq
it has}. It must get every message it missed exactly once, in seq order per
conversation, and then the live stream with no gap and no duplicate, even
while messages keep arriving during the sync.

These tests read the socket with a recorder that keeps every frame in arrival
order, so "the sync answer, then the live events" is checked as the client
sees it, not as a queue reorders it.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import defaultdict
from typing import Any

import orjson
import pytest
import websockets

from tests.support import App, Conn, Server


def _prefix() -> str:
    """Users unique to one test, so tests can share an app."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def app(shared_app: App) -> App:
    """One app per server for the module; tests keep apart by user ids."""
    return shared_app


class Device:
    """A raw client that records every frame in the order it arrived."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.log: list[dict[str, Any]] = []
        self.sync_ids: set[int] = set()
        self._ids = itertools.count(1)

    @classmethod
    async def login(cls, server: Server, app: App, user: str) -> Device:
        device = cls(await websockets.connect(server.ws_url, max_size=2**22))
        reply = await device.request("login", {"sdkappid": app.sdkappid, "user_id": user,
                                               "usersig": app.sig(user)})
        assert reply["ok"], reply
        return device

    async def _next(self, within: float) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), within))
        self.log.append(doc)
        return doc

    async def request(self, op: str, data: dict[str, Any], within: float = 10
                      ) -> dict[str, Any]:
        req_id = next(self._ids)
        if op == "sync":
            self.sync_ids.add(req_id)
        await self.ws.send(orjson.dumps({"op": op, "id": req_id, "data": data}).decode())
        deadline = asyncio.get_running_loop().time() + within
        while True:
            left = deadline - asyncio.get_running_loop().time()
            doc = await self._next(max(left, 0.001))
            if doc.get("re") == req_id:
                return doc

    async def sync_all(self, known: dict[str, int], limit: int | None = None,
                       max_rounds: int = 200) -> list[dict[str, Any]]:
        """Sync, and again with what came while ``more`` says so, as a client
        does. Returns every answer."""
        known = dict(known)
        answers = []
        for _ in range(max_rounds):
            data: dict[str, Any] = {"known": known}
            if limit is not None:
                data["limit"] = limit
            reply = await self.request("sync", data)
            assert reply["ok"], reply
            answers.append(reply["data"])
            for m in reply["data"]["messages"]:
                known[m["conversation_id"]] = max(known.get(m["conversation_id"], 0), m["seq"])
            if not reply["data"]["more"]:
                return answers
        raise AssertionError(f"sync still had more after {max_rounds} rounds")

    async def listen(self, seconds: float) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                await self._next(left)
            except TimeoutError:
                return

    def arrivals(self) -> list[dict[str, Any]]:
        """Messages in the order the client got them: sync answers and live
        events. Checks on the way that no message event came before the
        first sync answer or between a ``more`` answer and the next sync."""
        got: list[dict[str, Any]] = []
        live = False
        for doc in self.log:
            if doc.get("re") in self.sync_ids:
                assert doc["ok"], doc
                got.extend(doc["data"]["messages"])
                live = not doc["data"]["more"]
            elif doc.get("event") == "message":
                assert live, f"message pushed outside live mode: {doc}"
                got.append(doc["data"])
        return got

    async def close(self, abort: bool = False) -> None:
        if abort:
            # The connection is lost: no close handshake at all.
            self.ws.transport.abort()
        await self.ws.close()


def check_contiguous(arrived: list[dict[str, Any]], known: dict[str, int],
                     fresh_ok: bool = False) -> dict[str, int]:
    """Per conversation, the seqs in arrival order must be exactly
    known+1, known+2, ...: nothing twice, nothing skipped, nothing out of
    order. A conversation the device did not know starts wherever the sync
    chose (the newest ``limit``) when ``fresh_ok``, else at 1. Returns the
    new ``known``."""
    per: dict[str, list[int]] = defaultdict(list)
    for m in arrived:
        per[m["conversation_id"]].append(m["seq"])
    out = dict(known)
    for conv, seqs in per.items():
        start = known[conv] + 1 if conv in known else (seqs[0] if fresh_ok else 1)
        assert seqs == list(range(start, start + len(seqs))), (
            f"{conv}: known {known.get(conv)}, got seqs {seqs}")
        out[conv] = seqs[-1]
    return out


async def _send(conn: Conn, conv: str, tag: str) -> dict[str, Any]:
    reply = await conn.send_text(conv, tag, client_msg_id=tag)
    assert reply["ok"], reply
    return reply["data"]  # type: ignore[no-any-return]


# -- catching up after being away ---------------------------------------------


async def test_reconnect_gets_exactly_what_it_missed_then_live(server: Server,
                                                               app: App) -> None:
    p = _prefix()
    rx, bob, carol, dave = f"{p}rx", f"{p}bob", f"{p}carol", f"{p}dave"
    b = await Conn.login(server, app, bob)
    c = await Conn.login(server, app, carol)
    for i in range(3):
        await _send(b, f"c2c_{rx}", f"{p}b{i}")
    await _send(c, f"c2c_{rx}", f"{p}c0")

    device = await Device.login(server, app, rx)
    await device.sync_all({})
    known = check_contiguous(device.arrivals(), {})
    assert known == {f"c2c_{bob}": 3, f"c2c_{carol}": 1}
    await device.close(abort=True)

    # While the device is away: both peers write, the user writes from
    # another device, and someone new opens a conversation.
    for i in range(3, 7):
        await _send(b, f"c2c_{rx}", f"{p}b{i}")
    await _send(c, f"c2c_{rx}", f"{p}c1")
    phone = await Conn.login(server, app, rx)
    own = await _send(phone, f"c2c_{bob}", f"{p}own")
    d = await Conn.login(server, app, dave)
    await _send(d, f"c2c_{rx}", f"{p}d0")
    await _send(d, f"c2c_{rx}", f"{p}d1")

    device = await Device.login(server, app, rx)
    [answer] = await device.sync_all(known)
    got = [(m["conversation_id"], m["seq"], m["client_msg_id"]) for m in answer["messages"]]
    by_conv: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for conv, seq, cid in got:
        by_conv[conv].append((seq, cid))
    assert by_conv == {
        f"c2c_{bob}": [(4, f"{p}b3"), (5, f"{p}b4"), (6, f"{p}b5"), (7, f"{p}b6"),
                       (8, f"{p}own")],
        f"c2c_{carol}": [(2, f"{p}c1")],
        f"c2c_{dave}": [(1, f"{p}d0"), (2, f"{p}d1")],
    }
    assert own["seq"] == 8
    # The conversation list of the answer has the one made while away, and
    # the cursors: sending from the phone read the bob conversation.
    states = {s["conversation_id"]: s for s in answer["conversations"]}
    assert set(states) == {f"c2c_{bob}", f"c2c_{carol}", f"c2c_{dave}"}
    assert (states[f"c2c_{bob}"]["last_seq"], states[f"c2c_{bob}"]["read_seq"],
            states[f"c2c_{bob}"]["unread"]) == (8, 8, 0)
    assert (states[f"c2c_{carol}"]["last_seq"], states[f"c2c_{carol}"]["read_seq"],
            states[f"c2c_{carol}"]["unread"]) == (2, 0, 2)
    assert (states[f"c2c_{dave}"]["last_seq"], states[f"c2c_{dave}"]["unread"]) == (2, 2)

    # Then live, right after the answer.
    await _send(c, f"c2c_{rx}", f"{p}c2")
    await _send(b, f"c2c_{rx}", f"{p}b7")
    await device.listen(0.3)
    known = check_contiguous(device.arrivals(), known)
    assert known == {f"c2c_{bob}": 9, f"c2c_{carol}": 3, f"c2c_{dave}": 2}
    await device.close()
    for conn in (b, c, d, phone):
        await conn.close()


async def test_up_to_date_device_gets_nothing_old(server: Server, app: App) -> None:
    p = _prefix()
    rx, bob = f"{p}rx", f"{p}bob"
    b = await Conn.login(server, app, bob)
    for i in range(4):
        await _send(b, f"c2c_{rx}", f"{p}{i}")
    device = await Device.login(server, app, rx)
    [answer] = await device.sync_all({f"c2c_{bob}": 4})
    assert answer["messages"] == [] and answer["more"] is False
    # A device that claims more than exists gets nothing either, and is live.
    await device.close()
    device = await Device.login(server, app, rx)
    [answer] = await device.sync_all({f"c2c_{bob}": 99})
    assert answer["messages"] == []
    await _send(b, f"c2c_{rx}", f"{p}new")
    await device.listen(0.2)
    assert [(m["seq"], m["client_msg_id"]) for m in device.arrivals()] == [(5, f"{p}new")]
    await device.close()
    await b.close()


async def test_limit_zero_still_brings_every_missed_message(server: Server,
                                                            app: App) -> None:
    """``limit`` bounds what a *new* device gets; it must never make a known
    conversation's missed messages vanish (neither answered nor pushed)."""
    p = _prefix()
    rx, bob = f"{p}rx", f"{p}bob"
    b = await Conn.login(server, app, bob)
    for i in range(5):
        await _send(b, f"c2c_{rx}", f"{p}{i}")
    device = await Device.login(server, app, rx)
    await device.sync_all({f"c2c_{bob}": 2}, limit=0)
    await _send(b, f"c2c_{rx}", f"{p}live")
    await device.listen(0.2)
    assert check_contiguous(device.arrivals(), {f"c2c_{bob}": 2}) == {f"c2c_{bob}": 6}
    await device.close()
    await b.close()


async def test_new_device_gets_newest_limit_per_conversation(server: Server,
                                                             app: App) -> None:
    p = _prefix()
    rx, bob, carol = f"{p}rx", f"{p}bob", f"{p}carol"
    b = await Conn.login(server, app, bob)
    c = await Conn.login(server, app, carol)
    for i in range(7):
        await _send(b, f"c2c_{rx}", f"{p}b{i}")
    for i in range(2):
        await _send(c, f"c2c_{rx}", f"{p}c{i}")

    device = await Device.login(server, app, rx)
    [answer] = await device.sync_all({}, limit=3)
    seqs: dict[str, list[int]] = defaultdict(list)
    for m in answer["messages"]:
        seqs[m["conversation_id"]].append(m["seq"])
    assert seqs == {f"c2c_{bob}": [5, 6, 7], f"c2c_{carol}": [1, 2]}
    assert answer["more"] is False
    # Older ones are there through history, and the device is live.
    await _send(b, f"c2c_{rx}", f"{p}b7")
    await device.listen(0.2)
    check_contiguous(device.arrivals(), {}, fresh_ok=True)
    assert device.arrivals()[-1]["seq"] == 8
    await device.close()

    # Without a limit a new device gets them all (fewer than the default page).
    device = await Device.login(server, app, rx)
    [answer] = await device.sync_all({})
    assert check_contiguous(answer["messages"], {}) == {f"c2c_{bob}": 8, f"c2c_{carol}": 2}
    await device.close()
    # A limit above the server's page is refused, with a stable code.
    device = await Device.login(server, app, rx)
    reply = await device.request("sync", {"known": {}, "limit": 100_000})
    assert not reply["ok"] and reply["error"]["code"] == 10002
    await device.close()
    await b.close()
    await c.close()


async def test_missed_more_than_a_page_comes_in_pages(make_server: Any) -> None:
    server: Server = make_server(max_page="5")
    app = server.create_app()
    p = _prefix()
    rx = f"{p}rx"
    senders = {name: await Conn.login(server, app, f"{p}{name}")
               for name in ("s1", "s2", "s3", "s4", "s5", "s6")}
    await _send(senders["s1"], f"c2c_{rx}", f"{p}s1-first")
    device = await Device.login(server, app, rx)
    await device.sync_all({})
    known = check_contiguous(device.arrivals(), {})
    assert known == {f"c2c_{p}s1": 1}
    await device.close()

    # Away: 12 in the known conversation, 5 in each of five new ones, which is
    # more than one answer may hold (5 per conversation, 25 in all).
    for i in range(12):
        await _send(senders["s1"], f"c2c_{rx}", f"{p}s1-{i}")
    for name in ("s2", "s3", "s4", "s5", "s6"):
        for i in range(5):
            await _send(senders[name], f"c2c_{rx}", f"{p}{name}-{i}")

    device = await Device.login(server, app, rx)
    answers = await device.sync_all(known)
    assert len(answers) >= 3 and answers[0]["more"] is True
    for answer in answers:
        assert len(answer["messages"]) <= 25
        per: dict[str, int] = defaultdict(int)
        for m in answer["messages"]:
            per[m["conversation_id"]] += 1
        assert max(per.values(), default=0) <= 5
    caught_up = check_contiguous(device.arrivals(), known)
    expected = {f"c2c_{p}s1": 13, **{f"c2c_{p}{n}": 5 for n in ("s2", "s3", "s4", "s5", "s6")}}
    assert caught_up == expected
    # Every message the device missed came once: 12 + 25.
    assert len(device.arrivals()) == 37
    # Then live.
    await _send(senders["s4"], f"c2c_{rx}", f"{p}s4-live")
    await device.listen(0.2)
    assert check_contiguous(device.arrivals(), known) == {**expected, f"c2c_{p}s4": 6}
    await device.close()
    for conn in senders.values():
        await conn.close()


# -- catching up while messages keep coming -----------------------------------


async def _reconnect_during_stream(server: Server, app: App, *, fresh_ok: bool,
                                   cycles: int = 8, pause: float = 0.01) -> None:
    """Peers keep writing (about 80 messages a second each, under the rate
    limit) while two devices of the receiver drop and resume their
    connections, ``cycles`` times each; a conversation starts in the middle.
    Each connection must get exactly the next seqs, once and in order."""
    p = _prefix()
    rx, s1, s2, s3 = f"{p}rx", f"{p}s1", f"{p}s2", f"{p}s3"
    c1 = await Conn.login(server, app, s1)
    c2 = await Conn.login(server, app, s2)
    c3 = await Conn.login(server, app, s3)
    phone = await Conn.login(server, app, rx)  # the user's own other device
    for i in range(2):
        await _send(c1, f"c2c_{rx}", f"{p}warm1-{i}")
        await _send(c2, f"c2c_{rx}", f"{p}warm2-{i}")
    device = await Device.login(server, app, rx)
    await device.sync_all({})
    start = check_contiguous(device.arrivals(), {})
    assert start == {f"c2c_{s1}": 2, f"c2c_{s2}": 2}
    await device.close()

    stop = asyncio.Event()
    reconnecting = asyncio.Event()
    sent: dict[str, int] = {}

    async def stream(conn: Conn, conv: str, tag: str, wait: asyncio.Event | None = None
                     ) -> None:
        if wait is not None:
            await wait.wait()
        n = 0
        while not stop.is_set():
            await _send(conn, conv, f"{tag}-{n}")
            n += 1
            await asyncio.sleep(pause)
        sent[tag] = n

    senders = [
        asyncio.create_task(stream(c1, f"c2c_{rx}", "a")),
        asyncio.create_task(stream(c2, f"c2c_{rx}", "b")),
        asyncio.create_task(stream(phone, f"c2c_{s1}", "own")),
        asyncio.create_task(stream(c3, f"c2c_{rx}", "new", reconnecting)),
    ]

    async def keep_reconnecting(known: dict[str, int]) -> dict[str, int]:
        """One device of the user, dropping and resuming its connection."""
        for cycle in range(cycles):
            device = await Device.login(server, app, rx)
            await device.sync_all(known)
            await device.listen(0.02 * (cycle % 4))
            known = check_contiguous(device.arrivals(), known, fresh_ok=fresh_ok)
            await device.close(abort=cycle % 2 == 0)
            reconnecting.set()
        return known

    try:
        mine, other = await asyncio.gather(keep_reconnecting(start),
                                           keep_reconnecting(start))
        # The point of the test: every reconnect happened mid-stream.
        assert not any(t.done() for t in senders), [t for t in senders if t.done()]
    finally:
        stop.set()
        done = await asyncio.gather(*senders, return_exceptions=True)
    errors = [e for e in done if isinstance(e, BaseException)]
    assert not errors, errors
    assert min(sent.values()) > 0, sent

    # Everything is there in the end, on one more connection per device.
    for known in (mine, other):
        device = await Device.login(server, app, rx)
        await device.sync_all(known)
        await device.listen(0.2)
        final = check_contiguous(device.arrivals(), known, fresh_ok=fresh_ok)
        assert final == {f"c2c_{s1}": 2 + sent["a"] + sent["own"],
                         f"c2c_{s2}": 2 + sent["b"], f"c2c_{s3}": sent["new"]}
        await device.close()
    for conn in (c1, c2, c3, phone):
        await conn.close()


async def test_reconnects_during_a_stream_get_each_message_once(server: Server,
                                                                app: App) -> None:
    await _reconnect_during_stream(server, app, fresh_ok=False)


async def test_paged_sync_during_a_stream_gets_each_message_once(make_server: Any) -> None:
    # One answer holds 5 messages per conversation: every catch-up pages.
    server: Server = make_server(max_page="5")
    # Slower writers: a device that takes 5 messages a round must be able to
    # outrun them on a loaded machine, or its catch-up never ends (which
    # would test the machine, not the paging).
    await _reconnect_during_stream(server, server.create_app(), fresh_ok=True, pause=0.03)


async def test_sync_answer_is_cut_by_size_and_resumes(make_server: Any) -> None:
    """A device that missed more bytes than one answer may carry gets them
    over several syncs (``more``), each message once, in order."""
    server: Server = make_server(max_sync_bytes=str(16 * 1024))
    app = server.create_app()
    sender = await Conn.login(server, app, "big-sender")
    body = "x" * 3000
    for i in range(12):
        sent = await sender.send_text("c2c_big-reader", f"{i}:{body}")
        assert sent["ok"], sent
    reader = await Conn.open(server)
    login = await reader.request("login", {"sdkappid": app.sdkappid, "user_id": "big-reader",
                                           "usersig": app.sig("big-reader")})
    assert login["ok"]
    known = {"c2c_big-sender": 0}
    got: list[int] = []
    answers = 0
    while True:
        reply = await reader.request("sync", {"known": known})
        assert reply["ok"], reply
        answers += 1
        seqs = [m["seq"] for m in reply["data"]["messages"]]
        got += seqs
        if seqs:
            known["c2c_big-sender"] = seqs[-1]
        if not reply["data"]["more"]:
            break
        assert seqs, "an answer with more=true must make progress"
    assert got == list(range(1, 13))
    assert answers >= 3  # 12 x ~3 KB does not fit in 16 KB answers
    await sender.close()
    await reader.close()
