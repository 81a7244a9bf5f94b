"""RFC 6455 frames, server side, without I/O: what ``gateway/ws_lean.py``
reads from and writes to the socket (issue 19).

A ``FrameReader`` takes the bytes as they come and gives back whole messages
(fragments joined, control frames answered in between) or the close code
the connection must end with: 1002 for a broken frame (a reserved bit or
opcode, an unmasked frame, a fragmented or oversized control frame, a
continuation of nothing, a close code nobody may send), 1007 for text that
is not UTF-8, 1009 for a message over the size limit (refused from its
header, before its payload is buffered). No extension is ever agreed, so
every reserved bit is an error. Unmasking is websockets' C ``apply_mask``.

It holds nothing between messages but the partial frame a read split: an
idle connection's reader is a few slots.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from typing import Final

from websockets.speedups import apply_mask

CONT: Final = 0x0
TEXT: Final = 0x1
BINARY: Final = 0x2
CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, 1.3
# The codes a peer may put in a close frame (RFC 6455 7.4, websockets' list).
_SENDABLE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})

# A text frame's header for each length below ``TEXT_HEADS_BELOW``: most
# frames are short JSON (an ack, a message's event), and a header taken
# from here costs no call (ws_lean.py) and no ``struct.pack`` (~75 KiB).
TEXT_HEADS_BELOW = 2048
TEXT_HEADS = tuple(bytes((0x80 | TEXT, n)) if n < 126 else struct.pack("!BBH", 0x80 | TEXT, 126, n)
                   for n in range(TEXT_HEADS_BELOW))


class ProtocolFailure(Exception):
    """The peer broke the protocol: close with ``code`` (and ``reason``)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked frame with FIN set (the server never fragments)."""
    n = len(payload)
    if opcode == TEXT and n < TEXT_HEADS_BELOW:
        return TEXT_HEADS[n] + payload
    first = 0x80 | opcode
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", first, 126, n) + payload
    return struct.pack("!BBQ", first, 127, n) + payload


def close_frame(code: int | None, reason: str = "") -> bytes:
    """A close frame; ``None`` for one without a code (answering such a one)."""
    if code is None:
        return frame(CLOSE, b"")
    # At most 123 bytes, cut on a character's boundary (a peer fails a close
    # whose reason is not UTF-8).
    cut = reason.encode()[:123].decode(errors="ignore").encode()
    return frame(CLOSE, struct.pack("!H", code) + cut)


def close_code(payload: bytes) -> int | None:
    """The code of a peer's close frame (None: it gave none); a broken one raises."""
    if not payload:
        return None
    if len(payload) == 1:
        raise ProtocolFailure(1002, "close frame of one byte")
    code = int.from_bytes(payload[:2], "big")
    if not (code in _SENDABLE or 3000 <= code < 5000):
        raise ProtocolFailure(1002, "invalid close code")
    try:
        payload[2:].decode()
    except UnicodeDecodeError:
        raise ProtocolFailure(1007, "close reason is not UTF-8") from None
    return code


class FrameReader:
    """Frames in, messages out. ``feed`` returns what the bytes completed,
    in order: ``(TEXT, str)``, ``(BINARY, bytes)``, ``(PING, payload)``,
    ``(PONG, payload)``, ``(CLOSE, payload)``; after a broken frame,
    ``failure`` says why, and what came before it is still given."""

    __slots__ = ("_opcode", "_parts", "_rest", "_size", "failure", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._rest: bytearray | None = None  # an incomplete frame from the last read
        self._parts: list[bytes] | None = None  # the fragments of a message so far
        self._size = 0
        self._opcode = 0
        self.failure: ProtocolFailure | None = None

    def feed(self, data: bytes | bytearray) -> list[tuple[int, str | bytes]]:
        if (self._rest is None and self._parts is None and self.failure is None
                and len(data) > 5 and data[0] == 0x81):
            # Most reads are one whole masked text frame (a client's request):
            # its header alone, without the general loop's checks, and here
            # rather than in ``_feed`` (a call less per frame: issue 19).
            length, head = data[1] ^ 0x80, 6  # over 127 when unmasked
            if length == 126 and len(data) > 7:
                length, head = int.from_bytes(data[2:4], "big"), 8
            if ((length < 126 or head == 8) and len(data) == head + length
                    and length <= self.max_size):
                try:
                    return [(TEXT, apply_mask(data[head:], data[head - 4:head]).decode())]
                except UnicodeDecodeError:
                    self.failure = ProtocolFailure(1007, "text frame is not UTF-8")
                    return []
        out: list[tuple[int, str | bytes]] = []
        if self.failure is not None:
            return out  # the connection is ending: nothing after a broken frame counts
        try:
            self._feed(data, out)
        except ProtocolFailure as exc:
            self.failure = exc
        return out

    def _feed(self, data: bytes | bytearray, out: list[tuple[int, str | bytes]]) -> None:
        rest = self._rest
        if rest is not None:  # grown in place: a large frame in many reads is no copy each
            rest += data
            data = rest
            self._rest = None
        pos, end = 0, len(data)
        while end - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            if not b1 & 0x80:
                raise ProtocolFailure(1002, "unmasked frame from a client")
            if b0 & 0x70:
                raise ProtocolFailure(1002, "reserved bits set")
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            head = 6
            if length >= 126:
                if opcode >= CLOSE:
                    raise ProtocolFailure(1002, "control frame too long")
                if length == 126:
                    if end - pos < 8:
                        break
                    length = int.from_bytes(data[pos + 2:pos + 4], "big")
                    head = 8
                else:
                    if end - pos < 14:
                        break
                    length = int.from_bytes(data[pos + 2:pos + 10], "big")
                    if length >> 63:
                        raise ProtocolFailure(1002, "frame length over 2**63")
                    head = 14
            if opcode >= CLOSE:
                if opcode > PONG:
                    raise ProtocolFailure(1002, "reserved opcode")
                if not b0 & 0x80:
                    raise ProtocolFailure(1002, "fragmented control frame")
            elif opcode > BINARY:
                raise ProtocolFailure(1002, "reserved opcode")
            elif opcode == CONT:
                if self._parts is None:
                    raise ProtocolFailure(1002, "continuation of no message")
            elif self._parts is not None:
                raise ProtocolFailure(1002, "new message inside a fragmented one")
            if opcode < CLOSE and self._size + length > self.max_size:
                raise ProtocolFailure(1009, f"frame exceeds limit of {self.max_size} bytes")
            stop = pos + head + length
            if stop > end:
                break
            payload = apply_mask(data[pos + head:stop], data[pos + head - 4:pos + head])
            pos = stop
            if opcode >= CLOSE:
                out.append((opcode, payload))
                if opcode == CLOSE:
                    return  # nothing after a close frame counts
                continue
            if not b0 & 0x80:  # a fragment: more to come
                if self._parts is None:
                    self._parts, self._opcode = [], opcode
                self._parts.append(payload)
                self._size += length
                continue
            if self._parts is not None:
                self._parts.append(payload)
                payload, opcode = b"".join(self._parts), self._opcode
                self._parts, self._size = None, 0
            if opcode == TEXT:
                try:
                    out.append((TEXT, payload.decode()))
                except UnicodeDecodeError:
                    raise ProtocolFailure(1007, "text frame is not UTF-8") from None
            else:
                out.append((BINARY, payload))
        if pos < end:
            self._rest = data if pos == 0 and data is rest else bytearray(data[pos:])


def accept_key(headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, str]:
    """Sec-WebSocket-Accept for a valid request, else None and why not."""
    keys = [value for name, value in headers if name == b"sec-websocket-key"]
    versions = [value for name, value in headers if name == b"sec-websocket-version"]
    if len(versions) != 1 or versions[0].strip() != b"13":
        return None, "Sec-WebSocket-Version must be 13"
    if len(keys) != 1:
        return None, "one Sec-WebSocket-Key header is required"
    key = keys[0].strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except (binascii.Error, ValueError):
        return None, "invalid Sec-WebSocket-Key header"
    return base64.b64encode(hashlib.sha1(key + _GUID).digest()), ""
