"""The HTTP edge against hostile clients (issue 18, items 1, 2 and the long
URL of 4), through raw sockets: bodies over a route's limit and requests
without credentials are refused before their body is read; half-sent
requests and upgrades are closed after TIDINGS_HEADER_TIMEOUT; connections
are capped per process and per peer address; and 2,000 slow clients do not
stop a normal client from logging in and chatting."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import orjson
import pytest

from tests.support import App, Conn, InProcessServer, Server

Reply = tuple[int, dict[str, object], bytes]


async def _read_reply(reader: asyncio.StreamReader, timeout: float = 5) -> Reply:  # noqa: ASYNC109
    """One HTTP/1.1 reply: status, headers (lowercase), body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if line)}
    length = int(str(headers.get("content-length", "0")))
    body = await asyncio.wait_for(reader.readexactly(length), timeout)
    return status, headers, body


def _code(body: bytes) -> int:
    return int(orjson.loads(body)["error"]["code"])


async def _request_head(server: Server, head: str) -> tuple[asyncio.StreamReader,
                                                              asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(head.replace("\n", "\r\n").encode())
    await writer.drain()
    return reader, writer


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """SQLite is enough: all of this happens before the store."""
    server = InProcessServer(tmp_path_factory.mktemp("edge"), "",
                             {"TIDINGS_HEADER_TIMEOUT": "1",
                              "TIDINGS_MAX_CONNECTIONS_PER_ADDRESS": "40"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def edge_app(edge_server: Server) -> App:
    return edge_server.create_app("Edge")


# -- item 1: bodies ---------------------------------------------------------------


async def test_no_credentials_is_refused_before_the_body(edge_server: Server) -> None:
    """401 while the body is still unsent: the server did not wait for it."""
    for path in ("/v1/messages", "/v1/admin/messages/batch"):
        reader, writer = await _request_head(edge_server, (
            f"POST {path} HTTP/1.1\nHost: x\nContent-Type: application/json\n"
            "Content-Length: 60000\n\n"))
        status, headers, body = await _read_reply(reader)
        assert (status, _code(body)) == (401, 70002), (path, body)
        assert headers["connection"] == "close"
        writer.close()


async def test_bad_credentials_are_refused_before_the_body(edge_server: Server,
                                                           edge_app: App) -> None:
    reader, writer = await _request_head(edge_server, (
        "POST /v1/messages HTTP/1.1\nHost: x\nContent-Type: application/json\n"
        "Authorization: Bearer not-a-ticket\nContent-Length: 60000\n\n"))
    status, _, body = await _read_reply(reader)
    assert status == 401 and _code(body) in {70001, 70003, 70009}, body
    writer.close()


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/home/register"])
async def test_content_length_over_the_limit_is_refused_unread(
        edge_server: Server, edge_app: App, path: str) -> None:
    """A declared 100 MB body: 413 10070 at once, with or without credentials."""
    auth = f"Authorization: Bearer {edge_app.sig('alice')}\n" if "messages" in path else ""
    reader, writer = await _request_head(edge_server, (
        f"POST {path} HTTP/1.1\nHost: x\nContent-Type: application/json\n{auth}"
        "Content-Length: 100000000\n\n"))
    status, headers, body = await _read_reply(reader)
    assert (status, _code(body)) == (413, 10070), body
    assert headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, the rest unread
    writer.close()


async def test_the_answer_reaches_a_client_that_keeps_sending(edge_server: Server) -> None:
    """The client pushes its body without reading: the server answers 401,
    drops the rest for a while (a close with unread bytes would reset the
    connection and could destroy the answer), and then closes."""
    reader, writer = await _request_head(edge_server, (
        "POST /v1/messages HTTP/1.1\nHost: x\nContent-Type: application/json\n"
        "Content-Length: 90000\n\n"))
    await asyncio.sleep(0.2)  # the answer is on its way
    writer.write(b" " * 90000 + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    reader2, writer2 = await _request_head(edge_server, (
        "POST /v1/messages HTTP/1.1\nHost: x\nContent-Type: application/json\n"
        "Content-Length: 100000000\n\n"))
    await asyncio.sleep(0.2)
    for _ in range(64):
        writer2.write(b" " * 65536)
    status, _, body = await _read_reply(reader)
    assert (status, _code(body)) == (401, 70002), body
    assert await _closed_within(reader, 4)  # the pipelined GET was dropped, not run
    status, _, body = await _read_reply(reader2)
    assert (status, _code(body)) == (413, 10070), body
    writer.close()
    writer2.close()


async def test_chunked_body_is_cut_off_past_the_limit(edge_server: Server,
                                                      edge_app: App) -> None:
    """No Content-Length: the server stops reading once the limit is passed
    (96 KiB here); the client never finishes its body."""
    reader, writer = await _request_head(edge_server, (
        "POST /v1/messages HTTP/1.1\nHost: x\nContent-Type: application/json\n"
        f"Authorization: Bearer {edge_app.sig('alice')}\nTransfer-Encoding: chunked\n\n"))
    chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
    sent = 0
    reply: Reply | None = None
    while sent < 4 * 1024 * 1024:
        try:
            writer.write(chunk)
            await writer.drain()
        except ConnectionError:
            break
        sent += 16384
        try:
            reply = await _read_reply(reader, timeout=0.02)
            break
        except (TimeoutError, asyncio.IncompleteReadError):
            continue
    if reply is None:
        reply = await _read_reply(reader)
    status, _, body = reply
    assert (status, _code(body)) == (413, 10070), body
    assert sent < 1024 * 1024
    writer.close()


async def test_bodies_within_their_limits_still_work(edge_server: Server,
                                                     edge_app: App) -> None:
    """A message near the message limit, and a media upload far over the JSON
    limit (media routes keep their own limits)."""
    with edge_server.http(edge_app, "alice") as http:
        sent = http.post("/v1/messages", json={
            "conversation_id": "c2c_bob", "client_msg_id": uuid.uuid4().hex,
            "elements": [{"type": "text", "text": "\u00e9" * 6000}]})
        assert sent.status_code == 200, sent.text
        upload = http.post("/v1/media", params={"name": "big.bin", "kind": "file"},
                           content=b"\0" * (300 * 1024))
        assert upload.status_code == 200, upload.text


# -- item 4: the HTTP parser's refusals ---------------------------------------------


async def test_url_too_long_gets_the_json_error(edge_server: Server) -> None:
    reader, writer = await _request_head(edge_server,
                                         f"GET /healthz?{'a' * 66000} HTTP/1.1\nHost: x\n\n")
    status, headers, body = await _read_reply(reader)
    assert (status, _code(body)) == (400, 10002), body
    assert headers["content-type"] == "application/json"
    writer.close()


async def test_malformed_request_gets_the_json_error(edge_server: Server) -> None:
    reader, writer = await _request_head(edge_server, "GET /healthz HTTP/1.1\nHo st: x\n\n")
    status, _, body = await _read_reply(reader)
    assert (status, _code(body)) == (400, 10002), body
    writer.close()


# -- item 2: slow clients and connection caps -----------------------------------------


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), seconds) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


@pytest.mark.parametrize("head", [
    "GET /healthz HTTP/1.1\nHost: x\n",
    "GET /v1/ws HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n",
    "",  # connected, nothing sent
    "GET /healthz HTTP/1.1\nHost: x\n\nGET /healthz HTTP/1.1\n",  # the second request stalls
])
async def test_half_sent_requests_are_closed(edge_server: Server, head: str) -> None:
    reader, writer = await _request_head(edge_server, head)
    started = time.monotonic()
    if head.count("\n\n"):
        status, _, _ = await _read_reply(reader)
        assert status == 200
    assert await _closed_within(reader, 4), "still open 4 s after a 1 s header timeout"
    assert time.monotonic() - started >= 0.8
    writer.close()


async def test_connections_per_address_are_capped(edge_server: Server) -> None:
    """40 open from 127.0.0.3: the 41st is closed at once; another address is not."""
    held = [await asyncio.open_connection("127.0.0.1", edge_server.port,
                                          local_addr=("127.0.0.3", 0)) for _ in range(40)]
    extra_reader, extra_writer = await asyncio.open_connection(
        "127.0.0.1", edge_server.port, local_addr=("127.0.0.3", 0))
    assert await _closed_within(extra_reader, 2)
    extra_writer.close()
    reader, writer = await _request_head(edge_server, "GET /healthz HTTP/1.1\nHost: x\n\n")
    assert (await _read_reply(reader))[0] == 200
    writer.close()
    for _, w in held:
        w.close()


async def test_websocket_connections_leave_their_address_count(edge_server: Server,
                                                              edge_app: App) -> None:
    """An upgraded connection counts for its address until it closes: 60
    WebSocket sessions one after another (over the cap of 40 at once)."""
    for i in range(60):
        conn = await Conn.login(edge_server, edge_app, f"ws-{i}", sync=False)
        await conn.close()
    held = [await Conn.open(edge_server) for _ in range(40)]
    reader, writer = await _request_head(edge_server, "GET /healthz HTTP/1.1\nHost: x\n\n")
    assert await _closed_within(reader, 2), "a 41st connection from 127.0.0.1"
    writer.close()
    for conn in held:
        await conn.close()
    await asyncio.sleep(0.2)
    reader, writer = await _request_head(edge_server, "GET /healthz HTTP/1.1\nHost: x\n\n")
    assert (await _read_reply(reader))[0] == 200
    writer.close()


async def test_trusted_proxies_are_not_capped_per_address(make_server: object,
                                                          backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the edge is the same on every backend")
    server: Server = make_server(max_connections_per_address="3",  # type: ignore[operator]
                                 trusted_proxies="127.0.0.4")
    proxied = [await asyncio.open_connection("127.0.0.1", server.port,
                                             local_addr=("127.0.0.4", 0)) for _ in range(6)]
    reader, writer = proxied[-1]
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await _read_reply(reader))[0] == 200
    direct = [await asyncio.open_connection("127.0.0.1", server.port,
                                            local_addr=("127.0.0.5", 0)) for _ in range(4)]
    assert await _closed_within(direct[-1][0], 2)
    for _, w in proxied + direct:
        w.close()


async def test_connections_per_process_are_capped(make_server: object,
                                                  backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the edge is the same on every backend")
    server: Server = make_server(max_connections="5")  # type: ignore[operator]
    held = [await asyncio.open_connection("127.0.0.1", server.port,
                                          local_addr=(f"127.0.1.{i}", 0)) for i in range(1, 6)]
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    assert await _closed_within(reader, 2)
    writer.close()
    for _, w in held:
        w.close()
    await asyncio.sleep(0.2)
    reader, writer = await _request_head(server, "GET /healthz HTTP/1.1\nHost: x\n\n")
    assert (await _read_reply(reader))[0] == 200
    writer.close()


async def test_two_thousand_slow_clients_do_not_stop_a_chat(make_server: object,
                                                            backend: str) -> None:
    """2,000 half-sent requests and upgrades from 10 addresses (200 each,
    under the default per-address cap) are held until the header timeout
    (5 s here), while a normal client logs in, sends and receives; then
    they are all closed."""
    if backend != "sqlite":
        pytest.skip("the edge is the same on every backend")
    server: Server = make_server(header_timeout="5")  # type: ignore[operator]
    app = server.create_app("Slow")
    heads = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
             b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"]
    slow: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    started = time.monotonic()
    try:
        for i in range(2000):
            pair = await asyncio.open_connection("127.0.0.1", server.port,
                                                 local_addr=(f"127.0.3.{i % 10 + 1}", 0))
            pair[1].write(heads[i % 2])
            slow.append(pair)
        opened = time.monotonic() - started
        alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
        t0 = time.monotonic()
        a = await Conn.login(server, app, alice)
        b = await Conn.login(server, app, bob)
        sent = await a.send_text(f"c2c_{bob}", "through the crowd")
        assert sent["ok"], sent
        event = await b.event("message")
        assert event["elements"][0]["text"] == "through the crowd"
        chat = time.monotonic() - t0
        await a.close()
        await b.close()
        assert not any(r.at_eof() for r, _ in slow), "slow clients were refused, not held"
        assert time.monotonic() - started < 5, (
            f"opening {opened:.1f} s and chatting {chat:.2f} s took past the timeout")
        closed = await asyncio.gather(*(_closed_within(r, 10) for r, _ in slow))
        assert all(closed), f"{closed.count(False)} slow clients still open"
        print(f"2000 slow clients opened in {opened:.2f} s; login+send+receive {chat:.3f} s")
    finally:
        for _, w in slow:
            w.close()
