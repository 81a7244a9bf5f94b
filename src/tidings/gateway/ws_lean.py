"""``/v1/ws`` on the raw socket after uvicorn's HTTP parser read the
upgrade: our own small RFC 6455 codec (``gateway/ws_frames.py``) instead of
websockets' ``ServerProtocol`` under uvicorn's protocol (issue 19).

Why: per frame, websockets' generator parser, its ``Frame`` objects and
uvicorn's protocol around it were about half of the socket layer's CPU; per
connection, they and uvicorn's ``asyncio.Queue``, ``Event``s, request and
headers held about 12 KiB of an idle connection's memory, and the HTTP
protocol object stayed alive behind the upgrade. Here a connection is one
object with slots (it is also the session's ``Transport``); a frame read is
handled by the ``Session`` straight from the read, and a task lives only
while an op waits (login, sync; frames read meanwhile queue behind it), so
an idle connection has no task at all. The frames written to a connection
in one turn of the event loop go out in one socket write at its end.

The behaviour is the websockets path's (``gateway/ws_direct.py``, kept
behind ``TIDINGS_WS_LEAN=0``): the same close codes (1002 for a broken
frame, 1007 for text that is not UTF-8, 1009 for a message over
``max_frame_bytes``, the session's own 4002-4007, 1012 on shutdown), ping
answered with pong, fragments joined, no compression (with
``TIDINGS_WS_COMPRESSION`` on, the websockets path serves instead), frames
read before the connection ended still handled.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote

from uvicorn.middleware.proxy_headers import _TrustedHosts

from tidings import metrics
from tidings.gateway import ws_frames
from tidings.gateway.session import Session
from tidings.gateway.ws_direct import INBOX_LIMIT, PATH, forwarded_client
from tidings.gateway.ws_frames import TEXT_HEADS, TEXT_HEADS_BELOW
from tidings.runtime import Runtime

# How long our close frame waits for the peer's before the socket is closed.
CLOSE_TIMEOUT = 10.0
# The logger and message uvicorn uses for text that is not UTF-8:
# api/protocol_log.py makes it one line per minute at most.
_uvicorn_log = logging.getLogger("uvicorn.error")
_NOT_UTF8 = "Invalid UTF-8 sequence received from client."


class _Server:
    """What every connection of one server shares (one slot each, not six)."""

    __slots__ = ("connections", "corked", "loop", "tasks")

    def __init__(self, loop: asyncio.AbstractEventLoop, connections: set[Any],
                 tasks: set[asyncio.Task[None]]) -> None:
        self.loop = loop
        self.connections = connections
        self.tasks = tasks
        # The connections with frames held for this turn of the loop.
        self.corked: list[LeanWebSocket] | None = None

    def uncork(self) -> None:
        """The end of a turn of the loop that held frames: each connection's
        in one write."""
        corked, self.corked = self.corked, None
        for connection in corked or ():
            connection.flush()


class LeanWebSocket(asyncio.Protocol):
    """One upgraded connection: the codec's messages to its ``Session``, the
    session's frames to the socket."""

    __slots__ = (
        "_close_sent",
        "_close_timer",
        "_drained",
        "_ended",
        "_ended_with",
        "_inbox",
        "_lost",
        "_on_lost",
        "_paused",
        "_pending",
        "_reader",
        "_runner",
        "_server",
        "_session",
        "_transport",
        "_writable",
    )

    def __init__(self, server: _Server, transport: asyncio.Transport, max_size: int,
                 on_lost: Callable[[], None] | None) -> None:
        self._server = server
        self._transport = transport
        self._reader = ws_frames.FrameReader(max_size)
        self._session: Session | None = None
        self._inbox: deque[str | bytes] | None = None  # frames waiting for the session
        self._runner: asyncio.Task[None] | None = None  # the task handing them over
        self._paused = False
        # Frames written in this turn of the loop, sent together at its end.
        self._pending: list[bytes] | None = None
        self._writable = True
        self._drained: asyncio.Future[None] | None = None
        self._close_sent = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._ended = False
        self._ended_with: int | None = None
        self._lost = False
        self._on_lost = on_lost

    def start(self, runtime: Runtime, client_ip: str) -> None:
        self._server.connections.add(self)
        metrics.WS_OPENED.inc()
        metrics.WS_OPEN.inc()
        session = self._session = Session(runtime, self)
        session.client_ip = client_ip
        session.start()

    # -- the session's Transport ----------------------------------------------------

    def send_now(self, frame: bytes) -> bool:
        if not self._writable:
            return False
        # A connection that is ending takes no more frames (its device resyncs).
        if self._close_sent or self._lost or self._transport.is_closing():
            return True
        # Held to the end of this turn of the loop: a commit's acks and
        # events to one connection go out in one write (one syscall), not
        # one each (issue 19).
        pending = self._pending
        if pending is None:
            pending = self._pending = []
            # Corked: flushed by the server's ``uncork`` at the turn's end.
            server = self._server
            corked = server.corked
            if corked is None:
                corked = server.corked = []
                server.loop.call_soon(server.uncork)
            corked.append(self)
        # The header inline for most frames (a call less per frame).
        n = len(frame)
        pending.append(TEXT_HEADS[n] + frame if n < TEXT_HEADS_BELOW
                       else ws_frames.frame(ws_frames.TEXT, frame))
        return True

    def flush(self) -> None:
        """Write the frames held in this turn (before anything else is written)."""
        pending, self._pending = self._pending, None
        if pending and not self._lost and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    async def send(self, frame: bytes) -> None:
        while not self.send_now(frame):  # the socket's buffer is full: wait for the peer
            drained = self._drained
            if drained is None:
                drained = self._drained = self._server.loop.create_future()
            await drained

    async def close(self, code: int, reason: str) -> None:
        """The session closes the connection (heartbeat, slow consumer, kick)."""
        transport = self._transport
        if self._close_sent or transport.is_closing():
            return
        self._end(code)
        self.flush()
        transport.write(ws_frames.close_frame(code, reason))
        self._close_sent = True
        self._resume()
        self._close_timer = self._server.loop.call_later(CLOSE_TIMEOUT, transport.close)

    # -- asyncio.Protocol -----------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        for opcode, payload in reader.feed(data):
            if opcode <= ws_frames.BINARY:
                if self._runner is None and not self._close_sent and not self._ended:
                    # Nothing waits before this frame: the session handles it
                    # now, as far as it goes without waiting (a send, to the
                    # writer): no task, task step and coroutine chain per
                    # frame, and no call between (issue 19); only an op that
                    # waits gets a task, for what is left of it.
                    session = self._session
                    assert session is not None
                    rest = session.take(payload)
                    if rest is not None:
                        self._run_soon(rest)
                else:
                    self._queue(payload)
            elif opcode == ws_frames.PING:
                if not self._close_sent:
                    self.flush()
                    self._transport.write(ws_frames.frame(ws_frames.PONG, payload))  # type: ignore[arg-type]
            elif opcode == ws_frames.CLOSE:
                self._closed_by_peer(payload)  # type: ignore[arg-type]
                return
        if reader.failure is not None:
            self._fail(reader.failure)

    def _closed_by_peer(self, payload: bytes) -> None:
        try:
            code = ws_frames.close_code(payload)
        except ws_frames.ProtocolFailure as exc:
            self._fail(exc)
            return
        transport = self._transport
        if not self._close_sent:  # the peer's close: answer it with its code
            self._end(1005 if code is None else code)
            self.flush()
            transport.write(ws_frames.close_frame(code))
            self._close_sent = True
        transport.close()

    def _fail(self, failure: ws_frames.ProtocolFailure) -> None:
        if failure.code == 1007:
            _uvicorn_log.warning(_NOT_UTF8)
        transport = self._transport
        if not self._close_sent:
            self._end(failure.code)
            self.flush()
            transport.write(ws_frames.close_frame(failure.code, failure.reason))
            self._close_sent = True
        transport.close()

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._lost = True
        self.resume_writing()  # a send waiting for the buffer to drain gives up
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._end(1006)
        if self._on_lost is not None:
            self._on_lost()
            self._on_lost = None

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself

    def shutdown(self) -> None:
        """uvicorn's server stops: close with 1012 (try again elsewhere)."""
        if not self._close_sent:
            self._end(1012)
            self.flush()
            self._transport.write(ws_frames.close_frame(1012))
            self._close_sent = True
        self._transport.close()

    # -- frames to the session, in order -------------------------------------------

    def _queue(self, raw: str | bytes) -> None:
        """A frame read while an earlier one still waits (``data_received``
        hands the others to the session itself)."""
        if self._close_sent or self._ended:
            return  # past our close: read on until the peer's close reply
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = deque()
        inbox.append(raw)
        if len(inbox) >= INBOX_LIMIT and not self._paused:
            # A client that sends faster than it is served is held back by TCP.
            self._paused = True
            self._transport.pause_reading()

    def _run_soon(self, first: Coroutine[Any, Any, None] | None = None) -> None:
        server = self._server
        task = self._runner = server.loop.create_task(self._run(first))
        server.tasks.add(task)
        task.add_done_callback(server.tasks.discard)

    async def _run(self, first: Coroutine[Any, Any, None] | None) -> None:
        """Finish the frame that had to wait (``first``), then hand the
        frames read meanwhile to the session; when the connection has
        ended, let the session finish."""
        session = self._session
        assert session is not None
        try:
            if first is not None:
                await first
            inbox = self._inbox
            while inbox:
                await session.receive(inbox.popleft())
            self._resume()
        finally:
            if first is not None:
                first.close()  # a task cancelled before its start never ran it
            self._runner = None
            self._inbox = None
            if self._ended and self._session is not None:
                self._session = None
                metrics.WS_OPEN.dec()
                await session.finish(self._ended_with)
                if self._close_timer is None:
                    self._transport.close()

    def _resume(self) -> None:
        if self._paused and not self._lost:
            self._paused = False
            self._transport.resume_reading()

    def _end(self, code: int) -> None:
        """The connection ended (the first reason wins): frames read before
        it are still handled, then the session finishes."""
        if self._ended or self._session is None:
            return
        self._ended = True
        self._ended_with = code
        if self._runner is None:
            self._run_soon()


def _refuse(transport: asyncio.Transport, default_headers: list[tuple[bytes, bytes]],
            why: str) -> None:
    body = f"Failed to open a WebSocket connection: {why}.\n".encode()
    head = [b"HTTP/1.1 400 Bad Request\r\n"]
    for name, value in default_headers:
        head.extend([name, b": ", value, b"\r\n"])
    head.extend([b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
                 b"content-length: ", str(len(body)).encode(), b"\r\n\r\n", body])
    transport.write(b"".join(head))
    transport.close()


class LeanUpgrade:
    """Called by the HTTP protocol (server.py) for every WebSocket upgrade:
    takes ``/v1/ws`` once the application has started (True), leaves any
    other to uvicorn's WebSocket protocol (False)."""

    def __init__(self, runtime: Callable[[], Runtime | None], max_size: int,
                 trusted_proxies: str) -> None:
        self._runtime = runtime
        self._max_size = max_size
        self._trusted = _TrustedHosts(trusted_proxies) if trusted_proxies.strip() else None
        self._shared: _Server | None = None

    def __call__(self, transport: asyncio.Transport, method: str, url: bytes,
                 headers: list[tuple[bytes, bytes]], server_state: Any,
                 on_lost: Callable[[], None] | None) -> bool:
        runtime = self._runtime()
        if runtime is None or unquote(url.partition(b"?")[0].decode("latin-1")) != PATH:
            return False
        default_headers: list[tuple[bytes, bytes]] = server_state.default_headers
        accept, why = (ws_frames.accept_key(headers) if method == "GET"
                       else (None, "GET is required"))
        if accept is None:
            if on_lost is not None:  # closed at once: no longer counted for its address
                on_lost()
            _refuse(transport, default_headers, why)
            return True
        head = [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: ", accept, b"\r\n"]
        for name, value in default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.append(b"\r\n")
        transport.write(b"".join(head))
        protocol = LeanWebSocket(self._server(server_state), transport, self._max_size, on_lost)
        transport.set_protocol(protocol)
        peer = transport.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) else ""
        forwarded = [value.decode("latin-1") for name, value in headers
                     if name == b"x-forwarded-for"]
        protocol.start(runtime, forwarded_client(host, forwarded, self._trusted))
        return True

    def _server(self, server_state: Any) -> _Server:
        shared = self._shared
        if shared is None:  # one uvicorn server per configuration (server.py)
            shared = self._shared = _Server(asyncio.get_running_loop(),
                                            server_state.connections, server_state.tasks)
        return shared
