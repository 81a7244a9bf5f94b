"""What uvicorn logs when a *client* breaks the protocol, made harmless.

uvicorn's WebSocket layer (websockets-sansio) logs an ERROR with a traceback
for every text frame that is not UTF-8 (it closes the connection with 1007, as
it should), and its HTTP layer a WARNING for every request it cannot parse, an
unsupported upgrade, or a connection over the concurrency limit. Any client
can send these as fast as it likes, so each became a way to fill the log.

``install()`` puts a filter on the ``uvicorn.error`` logger that turns each of
these into one WARNING line without a traceback, at most one per kind every
``WINDOW`` seconds; the line says how many of that kind were left out since
the last one. Every other record goes through as it was (an exception in
Tidings' own code keeps its traceback)."""

from __future__ import annotations

import logging
import threading
import time

WINDOW = 60.0

# uvicorn's message -> what the client did (and what happened to it).
CLIENT_ERRORS: dict[str, str] = {
    "Invalid UTF-8 sequence received from client.":
        "a client sent a text frame that is not UTF-8 (closed with 1007)",
    "Invalid HTTP request received.":
        "a client sent a request that is not HTTP (answered 400)",
    "Unsupported upgrade request.":
        "a client asked for an unsupported upgrade (answered as plain HTTP)",
    "Exceeded concurrency limit.":
        "a connection came over the concurrency limit (answered 503)",
}


class ClientErrorFilter(logging.Filter):
    """One line per kind of client error per window, with a count of the rest."""

    def __init__(self, window: float = WINDOW) -> None:
        super().__init__("tidings.client_errors")
        self.window = window
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        what = CLIENT_ERRORS.get(record.msg) if isinstance(record.msg, str) else None
        if what is None:
            return True
        now = time.monotonic()
        with self._lock:
            last = self._last.get(record.msg)
            if last is not None and now - last < self.window:
                self._left_out[record.msg] = self._left_out.get(record.msg, 0) + 1
                return False
            self._last[record.msg] = now
            left_out = self._left_out.pop(record.msg, 0)
        record.msg = what + (f"; {left_out} more since the last such line"
                             if left_out else "") + \
            f" (at most one such line every {self.window:g} s)"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install(logger_name: str = "uvicorn.error") -> None:
    """Add the filter to uvicorn's logger, once per process."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ClientErrorFilter) for f in logger.filters):
        logger.addFilter(ClientErrorFilter())
