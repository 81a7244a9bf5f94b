"""A real HTTP server in the test process that stands for an app's server:
it records every callback request and answers as the test scripts it.

It runs on its own threads (``ThreadingHTTPServer``), so it answers while a
test blocks on a synchronous HTTP call to Tidings, and a slow answer to one
request does not hold up another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Call:
    """One request the app server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    # The caller's address: which process sent it (tests of a cluster).
    client: tuple[str, int] = ("", 0)

    @property
    def doc(self) -> Any:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        """The event name, in either format."""
        if "CallbackCommand" in self.query:
            return self.query["CallbackCommand"]
        return str(self.doc.get("event", ""))

    @property
    def data(self) -> dict[str, Any]:
        """The native ``data`` (native format), or the whole Tencent body."""
        doc = self.doc
        return doc["data"] if "data" in doc and "event" in doc else doc  # type: ignore[no-any-return]


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] | str = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Responder = Callable[[Call], Reply]


class AppServer:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self.responder: Responder = lambda call: Reply()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self.port = 0

    # -- running -----------------------------------------------------------------

    def start(self) -> AppServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as separate writes: without this,
                # Nagle and delayed ACKs add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with owner._lock:
                    owner._open.add(self.connection)

            def finish(self) -> None:
                with owner._lock:
                    owner._open.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                call = Call(parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                            {k.lower(): v for k, v in self.headers.items()}, body,
                            client=self.client_address[:2])
                with owner._lock:
                    if self.server is not owner._httpd:
                        # A keep-alive connection that outlived stop(): a stopped
                        # app server receives nothing (else a callback could be
                        # recorded as received while the test says "down").
                        self.close_connection = True
                        return
                    owner.calls.append(call)
                reply = owner.responder(call)
                if reply.delay:
                    time.sleep(reply.delay)
                raw = reply.body
                if isinstance(raw, dict):
                    raw = json.dumps(raw).encode()
                elif isinstance(raw, str):
                    raw = raw.encode()
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the caller gave up (timeout)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop open connections: callbacks now meet a
        refused (or reset) connection."""
        with self._lock:
            httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/im/callback"

    # -- scripting ---------------------------------------------------------------

    def answer(self, responder: Responder) -> None:
        self.responder = responder

    def of(self, event: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.event == event]

    async def wait_for(self, event: str, count: int = 1, timeout: float = 10,  # noqa: ASYNC109
                       where: Callable[[Call], bool] = lambda c: True) -> list[Call]:
        """Poll until ``count`` requests of ``event`` (matching ``where``) came."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.of(event) if where(c)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} {event} callbacks within {timeout} s, "
                                     f"wanted {count}; got {[c.event for c in self.calls]}")
            await asyncio.sleep(0.02)


def closed_port() -> int:
    """A port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
