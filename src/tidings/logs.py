"""The process's logs (docs/logging.md): one format for every line, Tidings'
own events and the records of the libraries under it (uvicorn, SQLAlchemy,
asyncio) alike, as text or as one JSON object a line
(``TIDINGS_LOG_FORMAT``), at ``TIDINGS_LOG_LEVEL``.

Built on structlog over the standard library's logging: Tidings' events are
structlog calls with named fields (``log.info("http_request", status=401,
...)``); every record, from structlog or from a library's plain logger,
goes through the standard root logger to one handler whose
``ProcessorFormatter`` renders it. A leaf like config.py: the edges log
through it, the composition roots configure it."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Literal, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["text", "json"]

# What every record gets, whether structlog or a library made it.
_SHARED: list[Processor] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def get_logger(name: str) -> Any:
    """A structlog logger that writes through the standard logger ``name``
    (so ``TIDINGS_LOG_LEVEL`` and any handler apply to it)."""
    configure_structlog()
    # Bound now, not at each call: the lazy proxy structlog answers looks
    # the bound logger up again on every call (cache_logger_on_first_use
    # only spares it the binding).
    return structlog.stdlib.get_logger(name).bind()


class _LevelFirst(structlog.stdlib.BoundLogger):
    """A line below the logger's level is dropped before its event is
    built: ``filter_by_level`` drops it too, but only after the call, the
    event dict and a ``DropEvent`` raised and caught (~3 us a line; a
    login logs two at info)."""

    def debug(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if self._logger.isEnabledFor(logging.DEBUG):
            return self._proxy_to_logger("debug", event, *args, **kw)
        return None

    def info(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if self._logger.isEnabledFor(logging.INFO):
            return self._proxy_to_logger("info", event, *args, **kw)
        return None


_configured = False


def configure_structlog() -> None:
    """structlog hands its events to the standard library (once per process;
    the handler and the format are ``configure``'s)."""
    global _configured
    if _configured:
        return
    _configured = True
    quiet_websocket_chatter()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=_LevelFirst,
        cache_logger_on_first_use=True,
    )


def _json(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


# A value with one of these is written as a JSON string.
_NEEDS_QUOTES = re.compile(r'[ "=\n\t]')


def _quoted(value: object) -> str:
    text = value if type(value) is str else str(value)
    if text == "" or _NEEDS_QUOTES.search(text):
        return _json(text)
    return text


def render_text(_: WrappedLogger, __: str, event: EventDict) -> str:
    """``<time> <LEVEL> <logger>: <event> key=value ...``, then a traceback
    (only for the server's own faults) on the lines after."""
    time_ = event.pop("timestamp", "")
    level = str(event.pop("level", "")).upper()
    name = event.pop("logger", "")
    message = str(event.pop("event", ""))
    if "\n" in message:  # one line a record (alembic's migration titles have several)
        message = " ".join(message.split())
    trace = event.pop("exception", None)
    event.pop("stack", None)
    fields = " ".join(f"{k}={_quoted(v)}" for k, v in event.items())
    line = f"{time_} {level} {name}: {message}" + (f" {fields}" if fields else "")
    return f"{line}\n{trace}" if trace else line


def formatter(log_format: LogFormat = "text") -> logging.Formatter:
    """The formatter of the one handler (also the test servers' log files)."""
    configure_structlog()
    renderer: Processor = (structlog.processors.JSONRenderer(serializer=_json)
                           if log_format == "json" else render_text)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


# uvicorn's and the websockets library's line per WebSocket (accepted, open,
# closed: no app, no user), which Tidings' own ws_login and ws_closed replace.
_WS_CHATTER = ("connection open", "connection closed")
_WS_ACCEPTED = '%s - "WebSocket %s"'


class _WebSocketChatter(logging.Filter):
    """Those lines at debug: shown only when ``uvicorn.error`` logs debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, str) and (msg in _WS_CHATTER or msg.startswith(_WS_ACCEPTED)):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger("uvicorn.error").isEnabledFor(logging.DEBUG)
        return True


def quiet_websocket_chatter() -> None:
    """Install the filter on uvicorn's logger, once per process."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _WebSocketChatter) for f in logger.filters):
        logger.addFilter(_WebSocketChatter())


def configure(level: str = "info", log_format: LogFormat = "text",
              stream: TextIO | None = None) -> None:
    """Every record of the process to ``stream`` (stderr: stdout is the
    CLI's output) in one format, at ``level``. uvicorn's own loggers lose
    their handlers and go through the root's."""
    # No line shows the caller's file and line, process or thread: a record
    # need not look them up (the stack walk and two getpid() calls were
    # about a fifth of a line's CPU; a ws_login line is ~4 % of a login's).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
