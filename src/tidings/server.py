"""Running the server process under uvicorn, and the HTTP connection's edge
limits uvicorn does not have (issue 18): a deadline for a request's headers
(a half-sent request or WebSocket upgrade is closed after
``header_timeout``), connection caps per process and per peer address, and
the JSON error body for requests the HTTP parser refuses.

What uvicorn (httptools) has, and why it was not enough: ``timeout_keep_alive``
is armed only after a response is complete and cancelled by the next byte, so a
request that stops half-way through its headers waits forever;
``limit_concurrency`` is checked once the headers are complete (a half-sent
request never reaches it) and answers 503 rather than refusing the
connection; ``h11_max_incomplete_event_size`` belongs to the h11
implementation, not httptools."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import ipaddress
import logging
import resource
import socket
import time
from collections import Counter
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from tidings import logs
from tidings.api.app import create_app
from tidings.config import Settings
from tidings.domain.cluster import StartRefused
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.gateway.ws_direct import direct_protocol
from tidings.gateway.ws_lean import LeanUpgrade
from tidings.runtime import Runtime, claim_node

# After an answer given before the request's body was read (413, 401), the
# connection reads and drops what the client still sends for at most this
# long before it closes: closing a socket with unread bytes resets it, and the
# reset can destroy the answer before the client reads it.
LINGER_SECONDS = 2.0


class _LingeringTransport:
    """The transport a request's cycle writes to: its ``close`` lingers."""

    def __init__(self, transport: asyncio.Transport, protocol: Any) -> None:
        self._transport = transport
        self._protocol = protocol
        # What a response's every chunk calls, without __getattr__.
        self.write = transport.write
        self.is_closing = transport.is_closing

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        self._protocol.linger_close()


def _trusted(trusted_proxies: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for item in trusted_proxies.split(","):
        item = item.strip()
        if item and item != "*":
            try:
                nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                continue
    return nets


def http_protocol(settings: Settings, ws_upgrade: LeanUpgrade | None = None
                  ) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the edge's limits from ``settings``;
    ``ws_upgrade`` takes the WebSocket upgrades it wants (gateway/ws_lean.py)
    before uvicorn's WebSocket protocol gets the rest.

    The per-address cap counts the socket's peer, never X-Forwarded-For: a
    connection is counted when it opens, before any header is read (the
    headers are what a slow client withholds). Peers named in
    ``trusted_proxies`` are exempt, so the users behind one proxy are not
    lumped together; the per-process cap still bounds them."""
    header_timeout = settings.header_timeout
    max_connections = settings.max_connections
    per_address = settings.max_connections_per_address
    trust_all = settings.trusted_proxies.strip() == "*"
    trusted = _trusted(settings.trusted_proxies)
    by_address: Counter[str] = Counter()
    last_warning = [float("-inf")]
    log = logging.getLogger("tidings.server")

    def _release_address(host: str) -> None:
        by_address[host] -= 1
        if by_address[host] <= 0:
            del by_address[host]

    def exempt(host: str) -> bool:
        if trust_all:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in trusted)

    class EdgeHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _counted: str | None = None
        _lingering = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            host = self.client[0] if self.client else ""
            if len(self.connections) > max_connections:
                now = self.loop.time()
                if now - last_warning[0] >= 10:  # one line per 10 s at most
                    last_warning[0] = now
                    log.warning("refusing connections: %d open (TIDINGS_MAX_CONNECTIONS)",
                                len(self.connections) - 1)
                transport.abort()
                return
            if host and not exempt(host):
                if by_address[host] >= per_address:
                    transport.abort()
                    return
                by_address[host] += 1
                self._counted = host
            self._start_header_timer()

        def _release(self) -> None:
            if self._counted is not None:
                _release_address(self._counted)
                self._counted = None

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_timer()
            self._release()
            super().connection_lost(exc)

        def handle_websocket_upgrade(self) -> None:
            # The WebSocket protocol owns the connection now: it still counts
            # for its address until it closes. The release is by address, not
            # through this object, which would stay alive behind the upgrade
            # (its parser, request and headers: ~5 KiB per connection).
            host, self._counted = self._counted, None
            on_lost = None if host is None else functools.partial(_release_address, host)
            if ws_upgrade is not None and ws_upgrade(
                    self.transport, self.scope["method"], self.url, self.headers,
                    self.server_state, on_lost):
                self.connections.discard(self)
                return
            super().handle_websocket_upgrade()
            ws: Any = self.transport.get_protocol()
            ws_lost = ws.connection_lost

            def connection_lost(exc: Exception | None) -> None:
                if on_lost is not None:
                    on_lost()
                ws_lost(exc)

            ws.connection_lost = connection_lost

        def on_message_begin(self) -> None:
            # Between requests uvicorn's keep-alive timeout applies; the next
            # request's first byte starts the deadline again.
            super().on_message_begin()
            self._start_header_timer()

        def on_headers_complete(self) -> None:
            self._stop_header_timer()
            super().on_headers_complete()
            cycle = self.cycle
            if cycle is not None and cycle.scope is self.scope:  # not an upgrade
                cycle.transport = _LingeringTransport(self.transport, self)  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            if self._lingering:
                return  # the answer is sent: the rest of the body is dropped unparsed
            super().data_received(data)

        def linger_close(self) -> None:
            transport = self.transport
            cycle = self.cycle
            if (transport.is_closing() or cycle is None or not cycle.more_body
                    or not transport.can_write_eof()):
                transport.close()
                return
            self._lingering = True
            self._stop_header_timer()
            transport.write_eof()
            self.flow.resume_reading()
            self.loop.call_later(LINGER_SECONDS, transport.close)

        def _start_header_timer(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _stop_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.abort()

        def send_400_response(self, msg: str) -> None:
            # The HTTP parser refused the request (a malformed request line or
            # header, a URL or header too long): Tidings' JSON error shape.
            error = TidingsError(ErrorCode.INVALID_REQUEST,
                                 "the HTTP parser refused this request (malformed, "
                                 "or its URL or headers are too long)")
            body = orjson.dumps({"error": error.to_dict()})
            head = [b"HTTP/1.1 400 Bad Request\r\n"]
            for name, value in self.server_state.default_headers:
                head.extend([name, b": ", value, b"\r\n"])
            head.extend([b"content-type: application/json\r\n",
                         b"content-length: " + str(len(body)).encode() + b"\r\n",
                         b"connection: close\r\n\r\n", body])
            self.transport.write(b"".join(head))
            self.transport.close()

    return EdgeHttpToolsProtocol


def uvicorn_config(settings: Settings, app: Any, **overrides: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``tidings serve``; tests/support.py's
    in-process server builds its own from here too."""

    def runtime() -> Runtime | None:
        return getattr(app.state, "runtime", None)  # None until the lifespan started it

    options: dict[str, Any] = dict(
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="uvloop",
        http=http_protocol(settings, LeanUpgrade(
            runtime, settings.max_frame_bytes, settings.trusted_proxies)
            if settings.ws_direct and settings.ws_lean and not settings.ws_compression else None),
        ws=(direct_protocol(runtime, settings.trusted_proxies) if settings.ws_direct
            else "websockets-sansio"),
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=settings.ws_compression,
        # Heartbeats are the protocol's own (ping/pong frames), which browsers
        # can answer; WebSocket-level pings would be a second mechanism.
        ws_ping_interval=None,
        ws_ping_timeout=None,
        # Tidings' own access log (api/access_log.py) names the route, the
        # caller and the request id; uvicorn's records go through the root
        # logger in the one format (logs.py), not through its dictConfig.
        access_log=False,
        log_config=None,
        # The client's address (rate limits, callbacks) comes from
        # X-Forwarded-For only behind proxies named in the settings; uvicorn
        # would otherwise believe any local peer.
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies.strip() or None,
        # The drain's grace (DrainingServer): REST requests in flight finish
        # and WebSockets close within it, then what is left is cancelled.
        timeout_graceful_shutdown=settings.drain_timeout,
    )
    options.update(overrides)
    return uvicorn.Config(app, **options)


class DatedState(ServerState):
    """uvicorn's state shared by its connections, whose ``Date`` header is
    made when a request reads it (again at most once a second), not by a
    timer: uvicorn's main loop woke ten times a second for it, and to see
    whether to stop, idle or not (QuietServer)."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._config = config
        self._headers: list[tuple[bytes, bytes]] = []
        self._until = 0.0  # when the date in _headers is a second old
        super().__init__()

    @property
    def default_headers(self) -> list[tuple[bytes, bytes]]:
        now = time.time()
        if now >= self._until:
            self._until = float(int(now) + 1)
            date = [(b"date", formatdate(now, usegmt=True).encode())]
            self._headers = ((date if self._config.date_header else [])
                             + self._config.encoded_headers)
        return self._headers

    @default_headers.setter
    def default_headers(self, value: list[tuple[bytes, bytes]]) -> None:
        pass  # uvicorn's own tick (not run here) and ServerState's start set it


class QuietServer(uvicorn.Server):
    """uvicorn's server whose main loop sleeps until it is told to stop
    (``should_exit`` set by a signal or by another thread wakes it) instead
    of polling ``should_exit`` every 0.1 s: an idle process should sleep
    (bench/idle_wakes.py: that poll was ~600 of an idle server's ~650
    wake-ups a minute). The Date header it renewed is made on demand
    (DatedState). uvicorn's own loop runs if a setting it serves is set
    (``limit_max_requests``, ``callback_notify``)."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._stop: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self._should_exit = False
        super().__init__(config)
        self.server_state = DatedState(config)

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._should_exit = value
        stop = self._stop
        if value and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits
                stop[0].call_soon_threadsafe(stop[1].set)

    async def main_loop(self) -> None:
        if self.config.limit_max_requests is not None or self.config.callback_notify:
            await super().main_loop()
            return
        stop = asyncio.Event()
        self._stop = (asyncio.get_running_loop(), stop)
        try:
            while not self._should_exit:  # set before the event was there
                await stop.wait()
                stop.clear()
        finally:
            self._stop = None


class DrainingServer(QuietServer):
    """uvicorn's server whose stop (SIGTERM, SIGINT) begins with the drain
    (docs/cluster.md): stop accepting, report not ready, tell every device
    to reconnect at once to another process (close 1012), and only then
    uvicorn's own shutdown: REST requests in flight finish within the grace,
    and the lifespan's end stops the writer, which commits what it was given
    before the process exits."""

    def __init__(self, config: uvicorn.Config, app: Any) -> None:
        super().__init__(config)
        self._app = app

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's handlers, without its raising the signal again once
        stopped: a drained process exits 0 (a worker that died of a signal
        is one its supervisor must replace, one that drained is not)."""
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        runtime = getattr(self._app.state, "runtime", None)
        if runtime is not None:
            for server in self.servers:
                server.close()  # no new connection lands here from now on
            told = runtime.drain()
            logging.getLogger("tidings.server").info(
                "draining: %d devices told to reconnect elsewhere", told)
            # One turn of the loop for the closes to be written with their
            # reason before uvicorn closes what is left (code 1012, no reason).
            await asyncio.sleep(0.05)
        await super().shutdown(sockets)


# Files a process holds besides its connections: the database and its log,
# the reader pool's connections, the loop's own, media being written.
RESERVED_FILES = 256


def open_files_limit(max_connections: int) -> int:
    """Raise this process's soft limit on open files to its hard limit, and
    warn when it is still below what ``max_connections`` needs; the limit.

    Every connection is a file. A shell's soft limit is often 1,024 (the
    hard one much higher), and past it ``accept`` fails: clients would be
    refused long before ``TIDINGS_MAX_CONNECTIONS``, with nothing in the log
    that says why. Raising the soft limit up to the hard one needs no
    privilege (nginx's ``worker_rlimit_nofile``, Go's runtime do the same);
    the hard one is the operator's (``ulimit -Hn``, systemd's
    ``LimitNOFILE``: docs/operations.md, "Many connections")."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # an infinite hard limit above the kernel's nr_open: keep ours
    if soft != resource.RLIM_INFINITY and soft < max_connections + RESERVED_FILES:
        logging.getLogger("tidings.server").warning(
            "only %d files may be open (ulimit -n) but TIDINGS_MAX_CONNECTIONS is %d: "
            "connections past about %d will fail; raise the hard limit (LimitNOFILE=)",
            soft, max_connections, max(0, soft - RESERVED_FILES))
    return int(soft)


def serve_on(settings: Settings, sock: socket.socket) -> None:
    """Take this process's place on the database (or exit 2 with one line
    that says why) and serve on ``sock`` until stopped."""
    open_files_limit(settings.max_connections)
    try:
        node = claim_node(settings)
    except StartRefused as refused:
        # One line that says what to do, not a traceback.
        logging.getLogger("tidings").error("not starting: %s", refused)
        raise SystemExit(2) from None
    try:
        app = create_app(settings)
        DrainingServer(uvicorn_config(settings, app), app).run(sockets=[sock])
    finally:
        node.release()


def worker_main(settings: Settings, sock: socket.socket) -> None:
    """One process of ``tidings serve --workers N`` (server_workers.py)."""
    logs.configure(settings.log_level, settings.log_format)
    serve_on(settings, sock)


class StartupError(Exception):
    """``tidings serve`` cannot start: one line for the operator."""


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else is done: a second
    server on a port in use stops here, before it touches the database (as
    uvicorn binds: SO_REUSEADDR, which on Linux still refuses a port that
    another socket listens on)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            why += " (is another tidings serve running?)"
        raise StartupError(f"cannot listen on {host}:{port}: {why}") from None
    sock.set_inheritable(True)
    return sock


def run(settings: Settings, announce: str = "", *, new_database: bool = False) -> None:
    """Serve until stopped: the port is bound first, then the data dir is
    made and the application starts on that socket. ``announce`` (which data
    the server uses) is logged once the port is ours, in the log's format: a
    warning when the database is new (hard to miss), else at info."""
    sock = bind_socket(settings.host, settings.port)
    logs.configure(settings.log_level, settings.log_format)
    if announce:
        logging.getLogger("tidings.server").log(
            logging.WARNING if new_database else logging.INFO, announce)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.workers > 1:
        from tidings.server_workers import supervise

        raise SystemExit(supervise(settings, sock, worker_main))
    serve_on(settings, sock)
