"""Fault points for the project's own tests: a test stops a ``tidings
serve`` process at a named point of its work, to kill it there (a push job
killed mid-decision, docs/cluster.md "Tests").

Only the process's environment arms it: ``TIDINGS_TEST_FAULTS=<folder>``
(the ``TIDINGS_TEST_`` variables are the test suite's, never settings), read
once at import. Without it ``FAULTS`` is None and a point costs its call
site one comparison; nothing a client sends reaches it. With it, a test
arms the point ``P`` by creating ``<folder>/P.hold``: the first process to
reach the point takes that file (a rename, so one process of a cluster
sharing the folder), writes ``<folder>/P.held`` (its pid and what it held)
and waits there until it is killed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Final

import orjson

log = logging.getLogger("tidings.faults")

ENV: Final = "TIDINGS_TEST_FAULTS"
# A held process that nobody kills (a test that failed first) goes on after this.
HOLD_SECONDS: Final = 300.0


class Faults:
    """The fault points of this process, armed by files in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def reach(self, point: str, detail: object) -> None:
        """Hold here if a test armed ``point``; ``detail`` (JSON) goes in the marker."""
        taken = self.folder / f"{point}.taken.{os.getpid()}"
        try:
            os.rename(self.folder / f"{point}.hold", taken)
        except FileNotFoundError:
            return  # not armed, or another process took it
        marker = self.folder / f"{point}.held"
        partial = marker.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(orjson.dumps({"pid": os.getpid(), "detail": detail}))
        partial.rename(marker)  # whole, for the test that polls for it
        log.warning("test fault point %s: holding (pid %s) until killed", point, os.getpid())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), HOLD_SECONDS)


def _from_env() -> Faults | None:
    folder = os.environ.get(ENV)
    return Faults(Path(folder)) if folder else None


FAULTS: Final = _from_env()
