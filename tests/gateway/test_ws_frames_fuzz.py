"""Tidings' own WebSocket codec (gateway/ws_frames.py, ws_lean.py) under
Hypothesis: messages cut into fragments with control frames between them and
the byte stream cut anywhere come out whole and in order; every kind of
broken frame closes with its code (1002, 1007, 1009) after the frames before
it were answered. First the codec alone (cheap, many examples), then a real
server's socket (fewer: each example is a connection)."""

from __future__ import annotations

import base64
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.gateway import ws_frames
from tidings.gateway.ws_frames import BINARY, CLOSE, CONT, PING, PONG, TEXT

MAX = 2048  # the server's TIDINGS_MAX_FRAME_BYTES here


def client_frame(opcode: int, payload: bytes, *, fin: bool = True,
                 mask: bytes = b"\x11\x22\x33\x44", rsv: int = 0, masked: bool = True,
                 length: int | None = None) -> bytes:
    """A client frame as RFC 6455 5.2 lays it out (``length``: a header that lies)."""
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    if n < 126:
        head = bytes((first, n | (0x80 if masked else 0)))
    elif n < 65536:
        head = struct.pack("!BBH", first, 126 | (0x80 if masked else 0), n)
    else:
        head = struct.pack("!BBQ", first, 127 | (0x80 if masked else 0), n)
    if not masked:
        return head + payload
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[bytes], list[tuple[int, bytes]]]:
    """A client's byte stream cut into reads, and what it should come out as:
    text ops (some fragmented, with pings between the fragments)."""
    stream: list[bytes] = []
    expected: list[tuple[int, bytes]] = []
    for i in range(draw(st.integers(1, 6))):
        text = orjson.dumps({"op": "ping", "id": f"m{i}",
                             "data": {}} if draw(st.booleans()) else {"op": "ping", "id": i})
        pieces = split(text, draw(st.lists(st.integers(0, 200), max_size=3)))
        mask = draw(st.binary(min_size=4, max_size=4))
        for k, piece in enumerate(pieces):
            last = k == len(pieces) - 1
            stream.append(client_frame(TEXT if k == 0 else CONT, piece, fin=last, mask=mask))
            if last:
                expected.append((TEXT, text))
            if draw(st.booleans()):
                ping = draw(st.binary(max_size=125))
                stream.append(client_frame(PING, ping, mask=mask))
                expected.append((PONG, ping))
    data = b"".join(stream)
    return split(data, draw(st.lists(st.integers(0, len(data)), max_size=8))), expected


# (what, frames after a good ping op, the close code)
def _bad_frames() -> list[tuple[str, bytes, int]]:
    text = client_frame(TEXT, b'{"op":"ping"}', fin=False)
    return [
        ("reserved opcode", client_frame(0x3, b"x"), 1002),
        ("reserved control opcode", client_frame(0xB, b""), 1002),
        ("reserved bit", client_frame(TEXT, b"{}", rsv=4), 1002),
        ("unmasked", client_frame(TEXT, b"{}", masked=False), 1002),
        ("long ping", client_frame(PING, b"x" * 126), 1002),
        ("fragmented ping", client_frame(PING, b"x", fin=False), 1002),
        ("continuation of nothing", client_frame(CONT, b"x"), 1002),
        ("new message inside a fragmented one", text + client_frame(TEXT, b"{}"), 1002),
        ("text not UTF-8", client_frame(TEXT, b'"\xff"'), 1007),
        ("fragments not UTF-8", client_frame(TEXT, b'"\xe2', fin=False)
         + client_frame(CONT, b'\x28\xa1"'), 1007),
        ("close code 999", client_frame(CLOSE, struct.pack("!H", 999)), 1002),
        ("close of one byte", client_frame(CLOSE, b"\x03"), 1002),
        ("close reason not UTF-8", client_frame(CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),
        ("frame over the limit", client_frame(BINARY, b"", length=MAX + 1), 1009),
        ("fragments over the limit", client_frame(TEXT, b"x" * 1500, fin=False)
         + client_frame(CONT, b"x" * 600), 1009),
        ("a 64-bit length", client_frame(BINARY, b"", length=1 << 40), 1009),
    ]


BAD = _bad_frames()


# -- the codec alone ------------------------------------------------------------------

@settings(max_examples=150, deadline=None, derandomize=True)
@given(conversations())
def test_fragments_and_reads_come_out_whole_and_in_order(
        case: tuple[list[bytes], list[tuple[int, bytes]]]) -> None:
    reads, expected = case
    reader = ws_frames.FrameReader(MAX)
    got = [m for data in reads for m in reader.feed(data)]
    assert reader.failure is None
    # The codec gives the pings; the server answers each with a pong.
    assert [(PONG if op == PING else op, p.encode() if isinstance(p, str) else p)
            for op, p in got] == expected


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.sampled_from(BAD), st.lists(st.integers(0, 4000), max_size=4))
def test_broken_frames_fail_with_their_code(bad: tuple[str, bytes, int], cuts: list[int]) -> None:
    what, frame, code = bad
    good = client_frame(TEXT, b'{"op":"ping","id":1}')
    reader = ws_frames.FrameReader(MAX)
    got = [m for data in split(good + frame, cuts) for m in reader.feed(data)]
    assert got[0] == (TEXT, '{"op":"ping","id":1}'), what
    if what.startswith("close"):  # the codec gives the close; its payload is checked after
        assert got[-1][0] == CLOSE and reader.failure is None
        with pytest.raises(ws_frames.ProtocolFailure) as failed:
            ws_frames.close_code(got[-1][1])  # type: ignore[arg-type]
        assert failed.value.code == code, what
    else:
        assert reader.failure is not None and reader.failure.code == code, what


def test_server_frames_carry_their_length() -> None:
    for n in (0, 125, 126, 65535, 65536):
        data = ws_frames.frame(TEXT, b"x" * n)
        assert data[0] == 0x81
        length = data[1]
        head = 2
        if length == 126:
            length, head = struct.unpack("!H", data[2:4])[0], 4
        elif length == 127:
            length, head = struct.unpack("!Q", data[2:10])[0], 10
        assert length == n and len(data) == head + n
    assert ws_frames.close_frame(None) == b"\x88\x00"
    assert ws_frames.close_frame(4005, "kicked") == b"\x88\x08\x0f\xa5kicked"
    # A reason past 123 bytes is cut on a character's boundary: still UTF-8.
    cut = ws_frames.close_frame(4000, "é" * 100)[4:]
    assert cut.decode() == "é" * 61 and len(cut) == 122


# -- a real server --------------------------------------------------------------------

@pytest.fixture(scope="module")
def lean_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.support import InProcessServer
    server = InProcessServer(Path(tmp_path_factory.mktemp("ws-fuzz")), "", {
        "TIDINGS_MAX_FRAME_BYTES": str(MAX), "TIDINGS_RATE_LIMIT_BURST": "100000",
        "TIDINGS_RATE_LIMIT_PER_SECOND": "100000"})
    server.start()
    yield server
    server.stop()


def _open(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        more = sock.recv(n - len(data))
        assert more, "the server closed the socket without a close frame"
        data += more
    return data


def _server_frame(sock: socket.socket) -> tuple[int, bytes]:
    head = _read_exactly(sock, 2)
    assert head[0] & 0x80 and not head[0] & 0x70 and not head[1] & 0x80, head  # FIN, unmasked
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", _read_exactly(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", _read_exactly(sock, 8))[0]
    return head[0] & 0x0F, _read_exactly(sock, n)


def _socket_closed(sock: socket.socket) -> bool:
    """The server closed the socket after its close frame (a reset when bytes
    the client sent after the broken frame were left unread)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@settings(max_examples=25, deadline=None, derandomize=True)
@given(conversations())
def test_the_server_answers_every_op_and_ping_in_order(
        lean_server: object, case: tuple[list[bytes], list[tuple[int, bytes]]]) -> None:
    reads, expected = case
    sock = _open(lean_server.port)  # type: ignore[attr-defined]
    try:
        for data in reads:
            sock.sendall(data)
        got = [_server_frame(sock) for _ in expected]
        # Pongs come as the frames are read, answers as the session handles
        # them: each in its own order.
        assert [p for op, p in got if op == PONG] == [p for op, p in expected if op == PONG]
        answers = [orjson.loads(p)["re"] for op, p in got if op == TEXT]
        assert answers == [orjson.loads(p).get("id") for op, p in expected if op == TEXT]
        sock.sendall(client_frame(CLOSE, struct.pack("!H", 1000)))
        assert _server_frame(sock) == (CLOSE, struct.pack("!H", 1000))
        assert _socket_closed(sock)
    finally:
        sock.close()


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.sampled_from(BAD), st.lists(st.integers(0, 4000), max_size=3))
def test_the_server_closes_a_broken_frame_with_its_code(
        lean_server: object, bad: tuple[str, bytes, int], cuts: list[int]) -> None:
    what, frame, code = bad
    sock = _open(lean_server.port)  # type: ignore[attr-defined]
    try:
        for data in split(client_frame(TEXT, b'{"op":"ping","id":7}') + frame, cuts):
            sock.sendall(data)
        op, payload = _server_frame(sock)
        if op == TEXT:  # the ping before it is answered (unless the close won the race)
            assert orjson.loads(payload)["re"] == 7, what
            op, payload = _server_frame(sock)
        assert op == CLOSE and struct.unpack("!H", payload[:2])[0] == code, (what, payload)
        assert _socket_closed(sock), what
    finally:
        sock.close()
