"""The callbacks' HTTP/1.1 client against a real local server that answers
in each of the ways HTTP allows: Content-Length, chunked, close-delimited,
HTTP/1.0; oversized answers; idle connections the server closed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tidings.adapters.http1 import AnswerTooLarge, Http1Pool, HttpError

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(script: Script) -> tuple[asyncio.Server, str, list[bytes]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                seen.append(head + await reader.readexactly(length))
                await script(reader, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/cb?x=1", seen


def answer(raw: bytes, close: bool = False) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()
        if close:
            writer.close()
    return script


@pytest.mark.parametrize(("raw", "close", "status", "body"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", False, 200, b"{}"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
     False, 200, b'{"a":1}'),
    (b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\nbroken", True, 500, b"broken"),
    (b"HTTP/1.0 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", True, 302, b""),
    (b"HTTP/1.1 204 No Content\r\n\r\n", False, 204, b""),
])
async def test_answers(raw: bytes, close: bool, status: int, body: bytes) -> None:
    server, url, seen = await serve(answer(raw, close))
    pool = Http1Pool()
    try:
        for _ in range(2):  # the second goes over the kept (or a new) connection
            assert await pool.post(url, {"X-A": "b"}, b'{"q":1}', max_answer=100) == (
                status, body)
        assert seen[0].startswith(b"POST /cb?x=1 HTTP/1.1\r\n")
        assert b"\r\nX-A: b\r\n" in seen[0] and seen[0].endswith(b'\r\n\r\n{"q":1}')
    finally:
        await pool.aclose()
        server.close()


async def test_failures_are_http_errors() -> None:
    pool = Http1Pool()
    for raw, error in ((b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", AnswerTooLarge),
                       (b"SMTP ready\r\n\r\n", HttpError),
                       (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", HttpError)):
        server, url, _ = await serve(answer(raw, close=True))
        with pytest.raises(error):
            await pool.post(url, {}, b"{}", max_answer=100)
        server.close()
    server, url, _ = await serve(answer(b""))
    server.close()
    await server.wait_closed()
    with pytest.raises(HttpError, match="cannot connect"):
        await pool.post(url, {}, b"{}", max_answer=100)
    await pool.aclose()


async def test_an_idle_connection_closed_by_the_server_is_replaced() -> None:
    answered = 0

    async def once_then_close(reader: asyncio.StreamReader,
                              writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        answered += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()  # without saying Connection: close

    server, url, seen = await serve(once_then_close)
    pool = Http1Pool()
    for _ in range(3):
        assert await pool.post(url, {}, b"{}", max_answer=100) == (200, b"{}")
    assert answered == 3 and len(seen) == 3
    await pool.aclose()
    server.close()
