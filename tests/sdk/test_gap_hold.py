"""The Python SDK against a scripted server on a real socket: live entries
that cross on their way (as two processes of a cluster may send them) are
held for ``gap_wait`` and handed over in order; a gap still open after it is
healed by a resync on the same URL. A real server does not misbehave on
cue, hence the script (the same cases as the TypeScript SDK's offline test)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tidings.sdk import Client

LOGIN = {"session_id": 1, "server_time": 0, "heartbeat_interval": 25, "heartbeat_timeout": 60,
         "max_message_bytes": 12288}


def message(seq: int, conversation: str = "c2c_bob") -> dict[str, Any]:
    peer = conversation.removeprefix("c2c_")
    return {"kind": "message", "conversation_id": conversation, "seq": seq,
            "msg_id": f"1-{peer}-{seq}", "sender": peer, "client_msg_id": f"{peer}{seq}",
            "elements": [{"type": "text", "text": f"m{seq}"}], "cloud_custom_data": "",
            "time": seq, "state": "normal", "edited_at": None, "imported": None, "change_seq": 0}


class Script:
    """The server: answers login and sync (the first sync brings seq 1,
    later ones what follows the client's known seq, up to ``last``, and
    the same in ``others``' conversations); the test pushes live frames
    through ``push``."""

    def __init__(self) -> None:
        self.syncs: list[dict[str, int]] = []
        self.sockets: list[ServerConnection] = []
        self.last = 1
        self.others: dict[str, int] = {}

    async def handle(self, ws: ServerConnection) -> None:
        self.sockets.append(ws)
        # A resync aborts the socket (the SDK's way): no error for the log.
        with contextlib.suppress(ConnectionClosed):
            await self._answer(ws)

    async def _answer(self, ws: ServerConnection) -> None:
        async for raw in ws:
            frame = orjson.loads(raw)
            if frame["op"] == "login":
                await ws.send(orjson.dumps({"re": frame["id"], "ok": True, "data": LOGIN}).decode())
            elif frame["op"] == "sync":
                known = frame["data"]["known"]
                self.syncs.append(known)
                lasts = {"c2c_bob": self.last, **self.others}
                messages = [message(s, c) for c, last in lasts.items()
                            for s in range(known.get(c, 0) + 1, last + 1)]
                data = {"messages": messages, "more": False, "conversations": [
                    {"conversation_id": c, "last_seq": last, "type": "c2c"}
                    for c, last in lasts.items()]}
                await ws.send(orjson.dumps({"re": frame["id"], "ok": True, "data": data}).decode())

    async def push(self, seq: int, conversation: str = "c2c_bob") -> None:
        frame = {"event": "message", "data": message(seq, conversation)}
        await self.sockets[-1].send(orjson.dumps(frame).decode())


@pytest.fixture
async def script() -> AsyncIterator[tuple[Script, str]]:
    s = Script()
    async with serve(s.handle, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield s, f"ws://127.0.0.1:{port}/v1/ws"


async def seqs_within(client: Client, n: int, within: float = 5.0) -> list[int]:
    return [(await asyncio.wait_for(client.next_message(), within)).seq for _ in range(n)]


async def test_entries_that_cross_are_held_then_handed_over_in_order(
        script: tuple[Script, str]) -> None:
    s, url = script
    async with Client(url, 1, "alice", "sig", gap_wait=5.0) as alice:
        assert await seqs_within(alice, 1) == [1]
        s.last = 3
        await s.push(3)  # committed by another process, came first
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(alice.next_message(), 0.1)  # held past the gap
        await s.push(2)
        assert await seqs_within(alice, 2) == [2, 3]
        assert alice.connects == 1 and s.syncs == [{}], "no resync"
        assert alice.known == {"c2c_bob": 3}


async def test_a_gap_still_open_after_gap_wait_resyncs_on_the_same_url(
        script: tuple[Script, str]) -> None:
    s, url = script
    async with Client(url, 1, "alice", "sig", gap_wait=0.1, backoff_initial=0.01) as alice:
        assert await seqs_within(alice, 1) == [1]
        s.last = 3
        await s.push(3)  # 2 never comes live: the resync brings it
        assert await seqs_within(alice, 2) == [2, 3]
        assert s.syncs == [{}, {"c2c_bob": 1}]
        assert alice.connects == 2 and len(s.sockets) == 2 and alice.url == url


async def test_without_gap_wait_a_gap_resyncs_at_once(script: tuple[Script, str]) -> None:
    s, url = script
    async with Client(url, 1, "alice", "sig", gap_wait=0, backoff_initial=0.01) as alice:
        assert await seqs_within(alice, 1) == [1]
        s.last = 3
        await s.push(3)
        assert await seqs_within(alice, 2) == [2, 3]
        assert s.syncs == [{}, {"c2c_bob": 1}]


async def test_a_long_run_held_behind_one_gap_is_handed_over_whole(
        script: tuple[Script, str]) -> None:
    """600 entries held behind one missing seq go out when it comes (a
    loop: a recursion per entry hit Python's recursion limit)."""
    s, url = script
    async with Client(url, 1, "alice", "sig", gap_wait=30.0) as alice:
        assert await seqs_within(alice, 1) == [1]
        s.last = 601
        for seq in range(3, 602):
            await s.push(seq)
        await s.push(2)
        assert await seqs_within(alice, 600) == list(range(2, 602))
        assert alice.connects == 1 and s.syncs == [{}], "no resync"


async def test_a_gap_in_each_conversation_waits_its_own_gap_wait(
        script: tuple[Script, str]) -> None:
    """A gap in one conversation, then one in another while the first is
    held: the first healing does not leave the second to the first's timer
    (one timer for all resynced it early); it resyncs after its own wait."""
    s, url = script
    s.others = {"c2c_carol": 1}
    wait = 1.5
    async with Client(url, 1, "alice", "sig", gap_wait=wait, backoff_initial=0.01) as alice:
        assert sorted(m.conversation_id for m in [await alice.next_message() for _ in "12"]) == [
            "c2c_bob", "c2c_carol"]
        start = asyncio.get_running_loop().time()
        s.last, s.others = 3, {"c2c_carol": 3}
        await s.push(3)  # bob's gap opens
        await asyncio.sleep(0.6 * wait)
        await s.push(3, "c2c_carol")  # carol's opens, bob's still held
        await s.push(2)  # bob's heals
        assert await seqs_within(alice, 2) == [2, 3]
        # Past bob's first hold's gap_wait, short of carol's: no resync yet.
        await asyncio.sleep(start + 1.25 * wait - asyncio.get_running_loop().time())
        assert alice.connects == 1 and s.syncs == [{}], "resynced on the other's timer"
        # Carol's gap_wait passes: a resync brings her 2 and 3.
        got = [await asyncio.wait_for(alice.next_message(), 5.0) for _ in "23"]
        assert [(m.conversation_id, m.seq) for m in got] == [("c2c_carol", 2), ("c2c_carol", 3)]
        assert s.syncs == [{}, {"c2c_bob": 3, "c2c_carol": 1}] and alice.connects == 2
