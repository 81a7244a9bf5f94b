"""Client-caused protocol errors at the WebSocket layer (issue 18, item 3):
closed with the right code, and at most one log line for many of them."""

from __future__ import annotations

import asyncio
import base64
import os
import struct

from tests.support import Server


async def _upgrade(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (FIN set), with a zero mask for simplicity."""
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


async def _close_code(reader: asyncio.StreamReader) -> int:
    """The code of the server's close frame (server frames are unmasked)."""
    while True:
        head = await asyncio.wait_for(reader.readexactly(2), 5)
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", await reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await reader.readexactly(8))[0]
        payload = await reader.readexactly(length)
        if head[0] & 0x0F == 0x8:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005


async def _bad(server: Server, frame: bytes) -> int:
    reader, writer = await _upgrade(server)
    writer.write(frame)
    await writer.drain()
    try:
        return await _close_code(reader)
    finally:
        writer.close()


# (what, raw frame, close code)
BAD = [
    ("text frame with invalid UTF-8", _frame(0x1, b'{"op":"ping","id":"\xff\xfe"}'), 1007),
    ("reserved opcode", _frame(0x3, b"x"), 1002),
    ("unmasked frame", bytes([0x81, 0x02]) + b"{}", 1002),
    ("reserved bit set", bytes([0xC1, 0x80]) + b"\0\0\0\0", 1002),
    ("close frame with invalid code", _frame(0x8, struct.pack("!H", 999)), 1002),
]


async def test_bad_frames_close_and_log_at_most_one_line_each(make_server: object) -> None:
    server = make_server()  # type: ignore[operator]  # a server of its own: its log is ours
    for what, frame, code in BAD:
        for _ in range(25):
            assert await _bad(server, frame) == code, what
    await asyncio.sleep(0.2)
    log = (server.data_dir / "server.log").read_text(errors="replace") \
        if (server.data_dir / "server.log").exists() else ""
    assert "Traceback" not in log, log[-3000:]
    # The filter is one per process: another server in this process may have
    # written this window's line already.
    lines = [line for line in log.splitlines() if "not UTF-8" in line]
    assert len(lines) <= 1, log[-3000:]
    assert all("closed with 1007" in line and "ERROR" not in line for line in lines)
    # The other kinds are closed by the websockets library without a log line.
    rest = [line for line in log.splitlines() if "uvicorn.error" in line and line not in lines]
    assert rest == [], log[-3000:]


async def test_bad_http_requests_log_at_most_one_line(make_server: object) -> None:
    server = make_server()  # type: ignore[operator]
    for _ in range(25):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\x16\x03\x01 not http at all\r\n\r\n")
        head = await asyncio.wait_for(reader.read(200), 5)
        assert head.startswith(b"HTTP/1.1 400"), head
        writer.close()
    await asyncio.sleep(0.2)
    path = server.data_dir / "server.log"
    log = path.read_text(errors="replace") if path.exists() else ""
    assert "Invalid HTTP request received" not in log, log[-3000:]
    assert len([line for line in log.splitlines() if "not HTTP" in line]) <= 1, log[-3000:]
