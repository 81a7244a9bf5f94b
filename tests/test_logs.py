"""logs.py's lines: the same text for less CPU (a ws_login line was ~4 % of
a PostgreSQL login's CPU, bench/journal/polish.md, "polish")."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from tidings import logs


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """logs.configure on a buffer, the test process's logging put back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    flags = (logging._srcfile, logging.logThreads, logging.logProcesses,
             logging.logMultiprocessing)
    uvicorn_handlers = {name: list(logging.getLogger(name).handlers)
                        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")}
    # The tests' servers set the "tidings" logger's own level (support.py):
    # here the root's, as in a `tidings serve` process, decides.
    tidings_level = logging.getLogger("tidings").level
    logging.getLogger("tidings").setLevel(logging.NOTSET)
    buffer = io.StringIO()
    logs.configure("info", stream=buffer)
    yield buffer
    logging.getLogger("tidings").setLevel(tidings_level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    (logging._srcfile, logging.logThreads, logging.logProcesses,
     logging.logMultiprocessing) = flags
    for name, kept in uvicorn_handlers.items():
        logging.getLogger(name).handlers[:] = kept


def test_a_line_reads_as_before(configured: io.StringIO) -> None:
    log = logs.get_logger("tidings.test_logs")
    log.info("ws_login", session=7, app=1400000001, user="alice", device="my phone",
             platform="", client='a"b')
    line = configured.getvalue()
    assert line.endswith(' INFO tidings.test_logs: ws_login session=7 app=1400000001 user=alice'
                         ' device="my phone" platform="" client="a\\"b"\n'), line
    log.debug("not at this level", session=8)
    logging.getLogger("a.library").warning("plain %s", "record")
    lines = configured.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].endswith(" WARNING a.library: plain record")


def test_the_logger_is_bound_once(configured: io.StringIO) -> None:
    """Fails on the old code: get_logger answered structlog's lazy proxy,
    which looks its bound logger up again at every call."""
    log = logs.get_logger("tidings.test_logs")
    assert isinstance(log, structlog.stdlib.BoundLogger)
    log.info("first")
    log.info("second")
    assert len(configured.getvalue().splitlines()) == 2


def test_a_record_skips_the_caller_and_process_lookups(configured: io.StringIO) -> None:
    """Fails on the old code: each record walked the stack for its caller
    and asked the process id twice, which no line shows."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            seen.append(record)
            return True

    keep = Keep()
    logging.getLogger().handlers[0].addFilter(keep)
    logs.get_logger("tidings.test_logs").info("ws_login", session=1)
    assert len(seen) == 1
    assert seen[0].lineno == 0 and seen[0].process is None and seen[0].thread is None


def test_a_line_below_the_level_is_dropped_before_its_processors(
        configured: io.StringIO) -> None:
    """Fails on the old code: filter_by_level dropped it, after the call
    had built the event and run into the processors."""
    reached: list[str] = []

    def spy(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
        reached.append(str(event["event"]))
        return event

    processors = structlog.get_config()["processors"]
    processors.insert(0, spy)
    try:
        log = logs.get_logger("tidings.test_logs")
        logging.getLogger().setLevel(logging.WARNING)  # the fixture puts it back
        log.info("ws_login", session=1)
        log.debug("detail")
        log.warning("kept")
    finally:
        processors.remove(spy)
    assert reached == ["kept"]
    assert configured.getvalue().rstrip().endswith(" WARNING tidings.test_logs: kept")
