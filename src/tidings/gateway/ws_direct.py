"""``/v1/ws`` served straight from uvicorn's WebSocket protocol, beside the
ASGI application (issue 19).

Through ASGI, every frame of a session crossed Starlette's WebSocket object,
the routing and exception middlewares' wrapped ``send``, an ``asyncio.Queue``
of message dicts, and uvicorn paused and resumed the socket's reading for
each frame received; the upgrade solved FastAPI's dependencies and set up a
task under six middleware frames, which every idle connection then kept.
Here the protocol that parsed the frame hands it to the session: the same
websockets sans-I/O parser (the same close codes: 1007 for a text frame that
is not UTF-8, 1009 for one over the size limit), the same ``Session``, with
none of that in between.

Any other path (and ``/v1/ws`` while the application is not started) goes
to the ASGI application as before: the class only adds a route in front of
it. ``Settings.ws_direct`` turns it off, for comparison (bench/README.md).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from uvicorn.middleware.proxy_headers import _TrustedHosts
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

from tidings import metrics
from tidings.gateway.session import Session
from tidings.runtime import Runtime

PATH = "/v1/ws"
# Frames read but not yet handled before the socket's reading is paused:
# enough that a client's burst of sends is parsed in one go, few enough that
# a client that sends faster than it is served is held back by TCP.
INBOX_LIMIT = 64


def forwarded_client(host: str, forwarded: list[str], trusted: _TrustedHosts | None) -> str:
    """The client's address: the socket's peer ``host``, or what a trusted
    proxy says in X-Forwarded-For (``forwarded``: the header's values), as
    uvicorn's ProxyHeadersMiddleware does for the ASGI application."""
    if trusted is not None and host in trusted and forwarded:
        found, _ = trusted.get_trusted_client_address(", ".join(forwarded))
        return found or host
    return host


class _Outbound:
    """The ``Transport`` a session writes to: frames go straight to the socket."""

    __slots__ = ("_ws",)

    def __init__(self, ws: DirectWebSocket) -> None:
        self._ws = ws

    async def send(self, frame: bytes) -> None:
        ws = self._ws
        while not self.send_now(frame):
            await ws.writable.wait()  # the socket's buffer is full: wait for the peer

    def send_now(self, frame: bytes) -> bool:
        ws = self._ws
        if not ws.writable.is_set():
            return False
        # A connection that is ending takes no more frames (its device
        # resyncs). The peer's close frame closes the protocol (uvicorn
        # answers it and closes the transport) a loop turn before the
        # session hears of it: a frame sent then raised InvalidState into
        # whatever delivered it (a commit's fan-out to every receiver).
        if ws.close_sent or ws.disconnected or ws.transport.is_closing():
            return True
        try:
            ws.conn.send_text(frame)
        except InvalidState:
            return True
        ws.transport.write(b"".join(ws.conn.data_to_send()))
        return True

    async def close(self, code: int, reason: str) -> None:
        self._ws.close_direct(code, reason)


class DirectWebSocket(WebSocketsSansIOProtocol):
    """uvicorn's websockets sans-I/O protocol, serving ``/v1/ws`` itself.

    ``runtime`` is set on the subclass that ``direct_protocol`` makes: it
    returns the started runtime, or None before the lifespan has run."""

    runtime: Callable[[], Runtime | None] = staticmethod(lambda: None)
    trusted: _TrustedHosts | None = None

    _session: Session | None = None
    _ended_with: int | None = None
    _ended = False

    def handle_connect(self, event: Request) -> None:
        runtime = self.runtime()
        if runtime is None or unquote(event.path.partition("?")[0]) != PATH:
            super().handle_connect(event)
            return
        self.request = event
        self.response = self.conn.accept(event)
        self.handshake_initiated = True
        self.handshake_complete = True
        if self.response.status_code != 101:  # not a valid upgrade: answered, closed
            self.close_sent = True
            self.conn.send_response(self.response)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()
            return
        del self.response.headers["Date"]
        self.response.headers.update([(name.decode("latin-1"), value.decode("latin-1"))
                                      for name, value in self.default_headers])
        self.conn.send_response(self.response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.start_keepalive()
        metrics.WS_OPENED.inc()
        metrics.WS_OPEN.inc()
        self._inbox: deque[str | bytes] = deque()
        self._waiting: asyncio.Future[None] | None = None
        session = self._session = Session(runtime, _Outbound(self))
        session.client_ip = self._client_host(event)
        session.start()
        task = self.loop.create_task(self._serve(session))
        task.add_done_callback(self.on_task_complete)
        self.tasks.add(task)

    def _client_host(self, event: Request) -> str:
        return forwarded_client(self.client[0] if self.client else "",
                                event.headers.get_all("X-Forwarded-For"), self.trusted)

    # -- inbound ---------------------------------------------------------------

    def send_receive_event_to_app(self) -> None:
        if self._session is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return  # past our close: read on until the peer's close reply
        raw: str | bytes = data
        if self.curr_msg_data_type == "text":
            try:
                raw = data.decode()
            except UnicodeDecodeError:
                self.logger.exception("Invalid UTF-8 sequence received from client.")
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
        self._inbox.append(raw)
        if len(self._inbox) >= INBOX_LIMIT and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        self._wake()

    def _wake(self) -> None:
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def _serve(self, session: Session) -> None:
        """Hand the frames to the session one at a time, in order, until the
        connection ends; then let the session finish."""
        inbox = self._inbox
        try:
            while True:
                if inbox:
                    await session.receive(inbox.popleft())
                    continue
                if self._ended:
                    return
                if self.read_paused and not self.close_sent:
                    self.read_paused = False
                    self.transport.resume_reading()
                self._waiting = self.loop.create_future()
                await self._waiting
                self._waiting = None
        finally:
            metrics.WS_OPEN.dec()
            await session.finish(self._ended_with)
            if self.close_timer is None:
                self.transport.close()

    def _end(self, code: int | None) -> None:
        """The connection ended (the first reason wins, as with ASGI's first
        ``websocket.disconnect``): frames read before it are still handled."""
        if self._session is None or self._ended:
            return
        self._ended = True
        self._ended_with = code
        self._wake()

    # -- how a connection ends -------------------------------------------------

    def close_direct(self, code: int, reason: str) -> None:
        """The session closes the connection (heartbeat, slow consumer, kick)."""
        if self.close_sent or self.transport.is_closing():
            return
        self._end(code)
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    def handle_close(self, event: Any) -> None:
        if self._session is not None and not self.close_sent and self.conn.close_rcvd:
            self._end(self.conn.close_rcvd.code)
        super().handle_close(event)

    def handle_parser_exception(self) -> None:
        if self._session is not None and self.conn.close_sent is not None:
            self._end(self.conn.close_sent.code)
        super().handle_parser_exception()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(1005 if self.handshake_complete else 1006)
        super().connection_lost(exc)

    def shutdown(self) -> None:
        if not self.close_sent:
            self._end(1012)
        super().shutdown()


def direct_protocol(runtime: Callable[[], Runtime | None],
                    trusted_proxies: str) -> type[DirectWebSocket]:
    """The protocol class for uvicorn's ``ws`` setting: ``runtime`` gives the
    started runtime (None before the lifespan); ``trusted_proxies`` as in the
    settings ("" when X-Forwarded-For is never believed)."""
    trusted = _TrustedHosts(trusted_proxies) if trusted_proxies.strip() else None
    return type("DirectWebSocket", (DirectWebSocket,),
                {"runtime": staticmethod(runtime), "trusted": trusted})
