"""A small HTTP/1.1 client for callbacks: POST a body, read the answer, keep
the connection for the next request.

Callbacks sit on the send path of apps with a before-send callback, so their
cost per request matters: on the project's machine httpx spent ~1.7 ms of CPU
per POST to a local server, this client ~0.05 ms (measured with bench/chat_load.py
--callback before_send; see bench/README.md). It does only what callbacks
need: ``http`` and ``https``, one request at a time per connection,
``Content-Length`` or chunked answers, no redirects (a 3xx is returned as
is), no proxies, no cookies. Timeouts are the caller's (``asyncio.timeout``);
a connection whose request was cut short is closed, never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import defaultdict
from urllib.parse import urlsplit

MAX_HEAD = 16 * 1024
MAX_IDLE_PER_HOST = 64


class HttpError(Exception):
    """The exchange failed: no connection, a broken or malformed answer."""


class AnswerTooLarge(HttpError):
    pass


_Key = tuple[str, str, int]
_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Http1Pool:
    def __init__(self, max_idle_per_host: int = MAX_IDLE_PER_HOST) -> None:
        self._idle: dict[_Key, list[_Conn]] = defaultdict(list)
        self._max_idle = max_idle_per_host
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    async def post(self, url: str, headers: dict[str, str], body: bytes, *,
                   max_answer: int) -> tuple[int, bytes]:
        """(status, body) of one POST; HttpError when it fails."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(f"not an http(s) URL: {url[:100]}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (parts.scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}",
                f"Content-Length: {len(body)}", "Connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        while True:
            reused = bool(self._idle.get(key))
            conn = self._idle[key].pop() if reused else await self._connect(key)
            try:
                status, answer, keep = await self._exchange(conn, request, max_answer)
            except _StaleConnection:
                _close(conn)
                if reused:
                    continue  # the server had closed an idle connection: once more, fresh
                raise HttpError("the server closed the connection without answering") from None
            except BaseException:
                _close(conn)
                raise
            if keep and not self._closed and len(self._idle[key]) < self._max_idle:
                self._idle[key].append(conn)
            else:
                _close(conn)
            return status, answer

    async def _connect(self, key: _Key) -> _Conn:
        scheme, host, port = key
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            return await asyncio.open_connection(host, port, ssl=context,
                                                 limit=MAX_HEAD * 2)
        except ssl.SSLError as exc:
            raise HttpError(f"TLS: {exc}") from None
        except OSError as exc:
            raise HttpError(f"cannot connect to {host}:{port}: "
                            f"{exc.strerror or type(exc).__name__}") from None

    async def _exchange(self, conn: _Conn, request: bytes,
                        max_answer: int) -> tuple[int, bytes, bool]:
        reader, writer = conn
        try:
            writer.write(request)
            await writer.drain()
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    raise _StaleConnection() from None
                raise HttpError("the answer ended early") from None
            except asyncio.LimitOverrunError:
                raise HttpError("the answer's headers are too large") from None
            lines = head.decode("latin-1").split("\r\n")
            status_line = lines[0].split(" ", 2)
            if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
                raise HttpError("the answer is not HTTP/1.x")
            try:
                status = int(status_line[1])
            except ValueError:
                raise HttpError("the answer has no status code") from None
            fields: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    fields[name.strip().lower()] = value.strip()
            keep = (status_line[0] == "HTTP/1.1"
                    and fields.get("connection", "").lower() != "close")
            if "chunked" in fields.get("transfer-encoding", "").lower():
                answer = await _read_chunked(reader, max_answer)
            elif "content-length" in fields:
                try:
                    length = int(fields["content-length"])
                except ValueError:
                    raise HttpError("bad Content-Length") from None
                if length > max_answer:
                    raise AnswerTooLarge(f"the answer is over {max_answer} bytes")
                answer = await reader.readexactly(length)
            elif status in (204, 304) or 100 <= status < 200:
                answer = b""
            else:
                answer = await _read_to_end(reader, max_answer)
                keep = False
            return status, answer, keep
        except asyncio.IncompleteReadError:
            raise HttpError("the answer ended early") from None
        except (BrokenPipeError, ConnectionResetError):
            raise _StaleConnection() from None
        except OSError as exc:
            raise HttpError(f"connection error: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                _close(conn)
        self._idle.clear()


class _StaleConnection(Exception):
    """The connection broke before any answer came (perhaps closed while idle)."""


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    out = bytearray()
    while True:
        line = await reader.readline()
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HttpError("bad chunk size") from None
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(out)
        if len(out) + size > limit:
            raise AnswerTooLarge(f"the answer is over {limit} bytes")
        out += await reader.readexactly(size)
        await reader.readexactly(2)


async def _read_to_end(reader: asyncio.StreamReader, limit: int) -> bytes:
    out = bytearray()
    while chunk := await reader.read(65536):
        out += chunk
        if len(out) > limit:
            raise AnswerTooLarge(f"the answer is over {limit} bytes")
    return bytes(out)


def _close(conn: _Conn) -> None:
    with contextlib.suppress(Exception):
        conn[1].close()
