"""Heartbeats and timeouts, server side (issue 2, point 9).

One server per backend for the module, with short timers: a ping after
0.3 s of silence, closed after 1 s of silence, 0.5 s to log in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import BACKENDS, database_url
from tests.pg import Cluster
from tests.support import App, Conn, ProcessServer, Server

INTERVAL, TIMEOUT, LOGIN_TIMEOUT = 0.3, 1.0, 0.5


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, pg_cluster: Cluster | None,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("heartbeat")
    # A process: these tests time the server's timers to a tenth of a second,
    # which a test process busy with its own clients (one GIL) could delay.
    server = ProcessServer(data_dir, database_url(str(request.param), pg_cluster), {
        "TIDINGS_HEARTBEAT_INTERVAL": str(INTERVAL),
        "TIDINGS_HEARTBEAT_TIMEOUT": str(TIMEOUT),
        "TIDINGS_LOGIN_TIMEOUT": str(LOGIN_TIMEOUT),
    })
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app(server: Server) -> App:
    return server.create_app()


def connections(server: Server) -> int:
    return int(httpx.get(f"{server.base_url}/healthz", timeout=5).json()["connections"])


async def _login(server: Server, app: App, user: str) -> tuple[Conn, dict[str, Any]]:
    conn = await Conn.open(server)
    reply = await conn.request("login", {"sdkappid": app.sdkappid, "user_id": user,
                                         "usersig": app.sig(user)})
    assert reply["ok"], reply
    synced = await conn.request("sync", {})
    assert synced["ok"], synced
    return conn, reply["data"]


async def _closed_within(conn: Conn, seconds: float) -> tuple[int | None, str]:
    return await asyncio.wait_for(asyncio.shield(conn.closed), seconds)


async def test_client_that_answers_pings_stays_connected(server: Server, app: App) -> None:
    conn, hello = await _login(server, app, "steady")
    assert hello["heartbeat_interval"] == INTERVAL
    assert hello["heartbeat_timeout"] == TIMEOUT
    pings = 0
    deadline = time.monotonic() + 2.5  # well past the 1 s timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = await asyncio.wait_for(conn.events.get(), left)
        except TimeoutError:
            break
        if event["event"] == "ping":
            assert event["data"] == {}
            pings += 1
            await conn.send_raw('{"op":"pong"}')
    assert not conn.closed.done(), await conn.closed
    # Pinged whenever it was quiet for the interval: about every 0.3-0.6 s.
    assert pings >= 3, pings
    reply = await conn.request("ping")
    assert reply["ok"] and isinstance(reply["data"]["server_time"], int)
    # A pong is never answered.
    assert conn.orphans == []
    await conn.close()


async def test_client_that_talks_needs_no_pong(server: Server, app: App) -> None:
    conn, _ = await _login(server, app, "chatty")
    deadline = time.monotonic() + 1.6
    while time.monotonic() < deadline:
        assert (await conn.request("ping"))["ok"]
        await asyncio.sleep(0.1)
    assert not conn.closed.done(), await conn.closed
    await conn.close()


async def test_silent_client_is_closed_with_4002(server: Server, app: App) -> None:
    conn, _ = await _login(server, app, "silent")
    # The server counts the silence from the last frame it heard: taking the
    # time before that frame is sent (not after its reply came back) keeps
    # the measured silence from coming out shorter than the server's.
    quiet_since = time.monotonic()
    assert (await conn.request("sync", {}))["ok"]
    code, reason = await _closed_within(conn, 3)
    silent = time.monotonic() - quiet_since
    assert (code, reason) == (4002, "no pong in time")
    # Not before the timeout; and within one check interval after it.
    assert TIMEOUT <= silent < 2.0, silent
    seen = []
    while not conn.events.empty():
        seen.append(conn.events.get_nowait()["event"])
    assert "ping" in seen  # it was asked first


async def test_dead_connection_is_dropped_and_no_longer_counted(server: Server,
                                                               app: App) -> None:
    before = connections(server)
    # The server counts from the last frame it heard, which it heard after
    # this moment: it may not drop the socket sooner than TIMEOUT after it.
    started = time.monotonic()
    conn, _ = await _login(server, app, "vanishing")
    assert connections(server) == before + 1
    # The peer is gone without a word: it neither sends nor reads, and so
    # never answers the close handshake either.
    conn.ws.transport.pause_reading()
    while connections(server) > before:
        # A liveness bound (a loaded machine is slow), not a speed target.
        assert time.monotonic() - started < 10, "a dead connection is still counted"
        await asyncio.sleep(0.05)
    assert time.monotonic() - started >= TIMEOUT
    conn.ws.transport.abort()
    await conn.close()


async def test_connection_without_login_is_closed_with_4003(server: Server,
                                                            app: App) -> None:
    before = connections(server)
    conn = await Conn.open(server)
    opened = time.monotonic()
    # Neither pings nor a failed login extend the deadline.
    assert (await conn.request("ping"))["ok"]
    bad = await conn.request("login", {"sdkappid": app.sdkappid, "user_id": "late",
                                       "usersig": app.sig("someone-else")})
    assert not bad["ok"] and bad["error"]["code"] == 70013
    while not conn.closed.done() and time.monotonic() - opened < 6:
        try:
            await conn.send_raw('{"op":"pong"}')
        except websockets.ConnectionClosed:
            break  # closed under us before our reader saw the close frame
        await asyncio.sleep(0.1)
    code, reason = await _closed_within(conn, 0.1)
    waited = time.monotonic() - opened
    assert (code, reason) == (4003, "no login in time")
    # Closed while pongs still flowed (a deadline they extended would keep it
    # open for the whole loop): a bound on behaviour, loose for a loaded machine.
    assert LOGIN_TIMEOUT <= waited < 5, waited
    assert conn.events.empty()  # no ping before login
    assert connections(server) == before


async def test_login_in_time_is_not_closed_at_the_login_deadline(server: Server,
                                                                 app: App) -> None:
    conn = await Conn.open(server)
    await asyncio.sleep(LOGIN_TIMEOUT * 0.6)
    reply = await conn.request("login", {"sdkappid": app.sdkappid, "user_id": "justintime",
                                         "usersig": app.sig("justintime")})
    assert reply["ok"], reply
    assert (await conn.request("sync", {}))["ok"]
    await asyncio.sleep(LOGIN_TIMEOUT)  # past the login deadline, within the heartbeat
    assert not conn.closed.done(), await conn.closed
    assert (await conn.request("ping"))["ok"]
    await conn.close()
