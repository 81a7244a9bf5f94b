"""``/v1/ws`` served three ways (issue 19): by Tidings' own frame codec on
the upgraded socket (gateway/ws_lean.py, the default), straight from
uvicorn's WebSocket protocol (gateway/ws_direct.py, ``TIDINGS_WS_LEAN=0``)
and through the ASGI application (``TIDINGS_WS_DIRECT=0``). The same conversation and the same
close codes on both. On SQLite only: what differs is the transport, not the
database, which the rest of tests/gateway runs on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import websockets

from tests.gateway.test_bad_frames_log import BAD, _bad
from tests.support import App, Conn, InProcessServer, Server


@pytest.fixture(scope="module", params=["lean", "direct", "asgi"])
def ws_server(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    server = InProcessServer(Path(tmp_path_factory.mktemp(f"ws-{request.param}")), "", {
        "TIDINGS_WS_DIRECT": "0" if request.param == "asgi" else "1",
        "TIDINGS_WS_LEAN": "1" if request.param == "lean" else "0",
        "TIDINGS_MAX_FRAME_BYTES": "2048", "TIDINGS_LOGIN_TIMEOUT": "1",
        "TIDINGS_TRUSTED_PROXIES": "127.0.0.1"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ws_app(ws_server: Server) -> App:
    return ws_server.create_app("Paths")


async def test_a_conversation_both_ways(ws_server: Server, ws_app: App) -> None:
    alice = await Conn.login(ws_server, ws_app, "alice")
    bob = await Conn.login(ws_server, ws_app, "bob")
    sent = await alice.send_text("c2c_bob", "hi bob")
    assert sent["ok"] and sent["data"]["seq"] == 1, sent
    assert (await bob.event())["elements"][0]["text"] == "hi bob"
    back = await bob.send_text("c2c_alice", "hi alice")
    assert back["ok"] and back["data"]["seq"] == 2, back
    assert (await alice.event())["elements"][0]["text"] == "hi alice"
    # Many frames at once (more than the direct path reads before it
    # pauses): every one answered, in order.
    replies = await asyncio.gather(*(alice.send_text("c2c_bob", f"n{i}") for i in range(150)))
    assert [r["data"]["seq"] for r in replies] == list(range(3, 153))
    assert [(await bob.event())["seq"] for _ in range(150)] == list(range(3, 153))
    assert alice.orphans == [] and bob.orphans == []
    await alice.close()
    await bob.close()


async def test_the_server_closes_with_the_same_codes(ws_server: Server, ws_app: App) -> None:
    silent = await Conn.open(ws_server)  # never logs in
    code, _ = await asyncio.wait_for(silent.closed, 10)
    assert code == 4003
    conn = await Conn.login(ws_server, ws_app, "carol")
    await conn.send_raw(orjson.dumps({"op": "ping", "id": 1, "pad": "x" * 3000}).decode())
    code, _ = await asyncio.wait_for(conn.closed, 5)
    assert code == 1009
    for what, frame, expected in BAD:
        assert await _bad(ws_server, frame) == expected, what
    again = await Conn.login(ws_server, ws_app, "carol")
    assert (await again.request("ping"))["ok"]
    await again.close()


async def test_no_compression_unless_configured(ws_server: Server) -> None:
    """The client offers permessage-deflate (as browsers do); by default the
    server declines it (TIDINGS_WS_COMPRESSION: zlib's state per connection)."""
    conn = await Conn.open(ws_server)
    assert "permessage-deflate" in str(conn.ws.request.headers.get("Sec-WebSocket-Extensions"))
    assert conn.ws.protocol.extensions == []
    await conn.close()


async def test_the_client_address_behind_a_trusted_proxy(ws_server: InProcessServer,
                                                         ws_app: App) -> None:
    """The peer (127.0.0.1) is a trusted proxy here: the session takes the
    client's address from X-Forwarded-For, as the ASGI path always did."""
    conn = Conn(await websockets.connect(
        ws_server.ws_url, additional_headers={"X-Forwarded-For": "203.0.113.9, 127.0.0.1"}))
    reply = await conn.request("login", {"sdkappid": ws_app.sdkappid, "user_id": "dave",
                                         "usersig": ws_app.sig("dave")})
    assert reply["ok"], reply
    assert ws_server.client_ips(ws_app, "dave") == ["203.0.113.9"]
    await conn.close()
