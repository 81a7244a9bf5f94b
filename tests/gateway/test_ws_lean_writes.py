"""The lean WebSocket's writes (gateway/ws_lean.py): the frames of one turn
of the event loop go to the socket together, in order, and before any
control frame written after them (issue 19)."""

from __future__ import annotations

import asyncio

from tidings.gateway import ws_frames
from tidings.gateway.ws_lean import LeanWebSocket, _Server


class Recorder(asyncio.Transport):
    """A transport that keeps what is written, one entry per write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def connection() -> tuple[LeanWebSocket, Recorder]:
    transport = Recorder()
    server = _Server(asyncio.get_running_loop(), set(), set())
    return LeanWebSocket(server, transport, 1 << 20, None), transport


def text(payload: bytes) -> bytes:
    return ws_frames.frame(ws_frames.TEXT, payload)


async def turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_a_turns_frames_go_out_in_one_write_in_order() -> None:
    conn, transport = connection()
    assert all(conn.send_now(f'{{"n":{n}}}'.encode()) for n in range(3))
    assert transport.writes == []  # held until the turn ends
    await turn()
    assert transport.writes == [b"".join(text(f'{{"n":{n}}}'.encode()) for n in range(3))]
    assert conn.send_now(b'{"n":3}')
    await turn()
    assert transport.writes[1:] == [text(b'{"n":3}')]


async def test_held_frames_go_before_a_close_frame() -> None:
    conn, transport = connection()
    conn.send_now(b'{"ack":1}')
    conn.send_now(b'{"ack":2}')
    await conn.close(4004, "slow")
    assert transport.writes == [text(b'{"ack":1}') + text(b'{"ack":2}'),
                                ws_frames.close_frame(4004, "slow")]
    assert conn.send_now(b'{"late":1}')  # accepted and dropped: the connection is ending
    await turn()
    assert len(transport.writes) == 2


async def test_frames_held_for_a_lost_connection_are_not_written() -> None:
    conn, transport = connection()
    conn.send_now(b'{"n":1}')
    conn.connection_lost(None)
    await turn()
    assert transport.writes == []


async def test_a_ping_is_answered_after_the_frames_held_before_it() -> None:
    conn, transport = connection()
    conn.send_now(b'{"n":1}')
    mask = b"\x00\x00\x00\x00"
    conn.data_received(bytes((0x80 | ws_frames.PING, 0x80 | 2)) + mask + b"hi")
    assert transport.writes == [text(b'{"n":1}'), ws_frames.frame(ws_frames.PONG, b"hi")]
