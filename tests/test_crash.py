"""Durability: an acked message is never lost, even on ``kill -9``.

Four clients (two pairs) send as fast as they can, each with unique
``client_msg_id``s, and record every ack. The server is killed with SIGKILL
mid-stream and started again on the same data. Then every acked message must
be stored exactly once at the seq its ack named, each conversation must
number its messages 1..N with no gap or duplicate, and resending everything
(acked or not) with the same ids must answer the first ack for what was
stored and store the rest exactly once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

from tests.support import WAITING_TEXTS_SQL, App, Conn, Server

PAIRS = (("alice", "bob"), ("carol", "dave"))
WINDOW = 32  # sends in flight per connection
# The server is killed once every sender has this many acks (not after a
# fixed time: a loaded CI machine may ack only a few in a second).
ACKS_BEFORE_KILL = 20


class Sender:
    """One connection sending as fast as the window allows."""

    def __init__(self, conn: Conn, user: str, peer: str) -> None:
        self.conn = conn
        self.user = user
        self.peer = peer
        self.sent: dict[str, str] = {}  # client_msg_id -> text, before it is sent
        self.acks: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, Any]] = []

    async def _one(self, cid: str) -> None:
        try:
            reply = await self.conn.request("send", {
                "conversation_id": f"c2c_{self.peer}", "client_msg_id": cid,
                "elements": [{"type": "text", "text": self.sent[cid]}]}, timeout=60)
        except websockets.ConnectionClosed:
            return
        if reply["ok"]:
            self.acks[cid] = reply["data"]
        else:
            self.refused.append(reply)

    async def run(self) -> None:
        """Send until the connection dies; then drop what was in flight."""
        slots = asyncio.Semaphore(WINDOW)
        pending: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            pending.discard(task)
            slots.release()

        async def feed() -> None:
            n = 0
            while True:
                await slots.acquire()
                cid = f"{self.user}-{n}"
                self.sent[cid] = f"{self.user} says {n}"
                n += 1
                task = asyncio.create_task(self._one(cid))
                pending.add(task)
                task.add_done_callback(finished)

        feeder = asyncio.create_task(feed())
        await asyncio.shield(self.conn.closed)
        feeder.cancel()
        # The socket is closed: acks already read are recorded, no other
        # can come any more.
        if pending:
            _, stuck = await asyncio.wait(set(pending), timeout=0.2)
            for task in stuck:
                task.cancel()
        await asyncio.gather(feeder, *pending, return_exceptions=True)


async def built(server: Server) -> None:
    """Until the search index's step has made every message's row."""
    deadline = asyncio.get_running_loop().time() + 30
    while await server.sql(WAITING_TEXTS_SQL):
        assert asyncio.get_running_loop().time() < deadline, "the step did not catch up"
        await asyncio.sleep(0.1)


def stored(server: Server, app: App, user: str, peer: str) -> list[dict[str, Any]]:
    """The whole conversation through REST history, oldest first."""
    out: list[dict[str, Any]] = []
    before: int | None = None
    with server.http(app, user) as http:
        while True:
            params: dict[str, int] = {"limit": 200}
            if before is not None:
                params["before_seq"] = before
            reply = http.get(f"/v1/conversations/c2c_{peer}/messages", params=params)
            assert reply.status_code == 200, reply.text
            page = reply.json()
            out[:0] = page["messages"]
            if not page["more"]:
                return out
            before = page["messages"][0]["seq"]


def check_conversation(rows: list[dict[str, Any]], senders: list[Sender]) -> None:
    seqs = [m["seq"] for m in rows]
    assert seqs == list(range(1, len(rows) + 1)), "seqs are not 1..N without gaps"
    ids = [m["client_msg_id"] for m in rows]
    assert len(ids) == len(set(ids)), "a client_msg_id is stored twice"
    by_id = {m["client_msg_id"]: m for m in rows}
    for s in senders:
        for cid, ack in s.acks.items():
            assert cid in by_id, f"acked message {cid} (seq {ack['seq']}) was lost"
            m = by_id[cid]
            assert (m["seq"], m["msg_id"], m["time"], m["sender"]) == (
                ack["seq"], ack["msg_id"], ack["time"], s.user), (ack, m)
            assert m["elements"] == [{"type": "text", "text": s.sent[cid]}]
    known = {cid for s in senders for cid in s.sent}
    assert set(ids) <= known, set(ids) - known


@pytest.mark.process_server("kill -9: only a process can be killed mid-write")
@pytest.mark.timeout(120)
async def test_acked_messages_survive_kill9_exactly_once(make_server: Any) -> None:
    server: Server = make_server(rate_limit_per_second="1000000",
                                 rate_limit_burst="1000000")
    app = server.create_app()
    senders: list[Sender] = []
    for a, b in PAIRS:
        senders.append(Sender(await Conn.login(server, app, a), a, b))
        senders.append(Sender(await Conn.login(server, app, b), b, a))
    by_pair = [senders[0:2], senders[2:4]]

    running = [asyncio.create_task(s.run()) for s in senders]
    deadline = asyncio.get_running_loop().time() + 60
    while any(len(s.acks) < ACKS_BEFORE_KILL for s in senders):
        assert asyncio.get_running_loop().time() < deadline, [len(s.acks) for s in senders]
        await asyncio.sleep(0.02)
    server.kill9()
    await asyncio.wait_for(asyncio.gather(*running), 30)

    acked = sum(len(s.acks) for s in senders)
    attempted = sum(len(s.sent) for s in senders)
    for s in senders:
        assert s.refused == [], s.refused[:3]
        # Each sender was still sending when the server died.
        assert len(s.acks) >= ACKS_BEFORE_KILL, (s.user, len(s.acks))
    assert attempted > acked  # some sends were in flight at the kill

    server.start()  # same data dir, same database, same port

    for (a, b), pair in zip(PAIRS, by_pair, strict=True):
        rows = stored(server, app, a, b)
        check_conversation(rows, pair)
        # The conversation row agrees with its messages.
        with server.http(app, a) as http:
            [conv] = http.get("/v1/conversations").json()["conversations"]
        assert conv["last_seq"] == len(rows)
        assert conv["last_message"]["seq"] == len(rows)

    # Resend everything, acked or not, each id twice at once from two devices
    # of the sender: what was stored answers its first ack, the rest is
    # stored once.
    stored_before = {(a, b): {m["client_msg_id"]: m for m in stored(server, app, a, b)}
                     for a, b in PAIRS}
    devices = {s.user: (await Conn.login(server, app, s.user),
                        await Conn.login(server, app, s.user)) for s in senders}

    async def resend(s: Sender, cid: str, device: Conn) -> dict[str, Any]:
        reply = await device.request("send", {
            "conversation_id": f"c2c_{s.peer}", "client_msg_id": cid,
            "elements": [{"type": "text", "text": s.sent[cid]}]}, timeout=60)
        assert reply["ok"], reply
        return reply["data"]  # type: ignore[no-any-return]

    async def resend_all(s: Sender) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        out = []
        cids = list(s.sent)
        for i in range(0, len(cids), WINDOW):
            chunk = cids[i:i + WINDOW]
            one, two = devices[s.user]
            answers = await asyncio.gather(*(resend(s, c, one) for c in chunk),
                                           *(resend(s, c, two) for c in chunk))
            out.extend(zip(chunk, answers[:len(chunk)], answers[len(chunk):], strict=True))
        return out

    results = await asyncio.gather(*(resend_all(s) for s in senders))
    for (a, b), pair in zip(PAIRS, by_pair, strict=True):
        before = stored_before[(a, b)]
        for s, answers in zip(pair, (results[senders.index(p)] for p in pair), strict=True):
            for cid, first, second in answers:
                assert (first["seq"], first["msg_id"]) == (second["seq"], second["msg_id"])
                fresh = [x for x in (first, second) if not x["duplicate"]]
                if cid in before:
                    assert fresh == [], (cid, first, second)
                    assert first["seq"] == before[cid]["seq"]
                else:
                    assert len(fresh) == 1, (cid, first, second)
                    assert first["seq"] > len(before)
                if cid in s.acks:
                    assert first["seq"] == s.acks[cid]["seq"]
                    assert first["msg_id"] == s.acks[cid]["msg_id"]
        rows = stored(server, app, a, b)
        check_conversation(rows, pair)
        # Every message ever attempted is there now, once.
        assert sorted(m["client_msg_id"] for m in rows) == sorted(
            cid for s in pair for cid in s.sent)

    # The tightest case: killed the moment the last ack arrived. On SQLite
    # the search rows of everything before are made (the step caught up),
    # and the last words' wait for the next step (64 messages, or 5 s for fewer).
    sqlite = not server.database_url
    if sqlite:
        await built(server)
    alice = devices["alice"][0]
    last = []
    for i in range(3):
        reply = await alice.send_text("c2c_bob", f"last words {i}", client_msg_id=f"w{i}")
        assert reply["ok"] and not reply["data"]["duplicate"], reply
        last.append(reply["data"])
    server.kill9()
    if sqlite:
        assert await server.sql(WAITING_TEXTS_SQL) == 3
    server.start()
    rows = stored(server, app, "bob", "alice")
    assert [(m["seq"], m["client_msg_id"]) for m in rows[-3:]] == [
        (x["seq"], x["client_msg_id"]) for x in last]
    assert len(rows) == last[-1]["seq"]
    # Found by search, and their rows made at the start.
    with server.http(app, "bob") as http:
        found = http.get("/v1/search", params={"q": "last words"}).json()["results"]
    assert len(found) == 3, found
    if sqlite:
        await built(server)
    assert await server.sql(
        "SELECT count(*) FROM message_texts WHERE body LIKE 'last words %'") == 3
    # The figures' message counts: every stored message once across both
    # kills (on SQLite the step's, which has caught up; issue 19).
    assert await server.sql("SELECT sum(messages) FROM app_message_counts") == await server.sql(
        "SELECT count(*) FROM messages WHERE kind = 0")
    # And a device coming back after all this catches up exactly.
    bob = await Conn.login(server, app, "bob", known={"c2c_alice": len(rows) - 5})
    assert [m["seq"] for m in bob.last_sync["messages"]] == list(
        range(len(rows) - 4, len(rows) + 1))
    await bob.close()
    for conn in [s.conn for s in senders] + [c for pair in devices.values() for c in pair]:
        await conn.close()
