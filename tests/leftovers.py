"""The test run's own servers (PostgreSQL, Redis) never outlive it.

A fixture's ``finally`` does not run when pytest, or an xdist worker, is
killed (SIGKILL, a CI timeout, a crash), and ``pg_ctl`` starts the
postmaster in a session of its own, so not even the terminal's Ctrl-C
reaches it. Two layers, both driven by one record per guarded server:

- a watchdog (``guard``): a small process in a session of its own that
  holds the read end of a pipe whose write end only the test process holds.
  When the test process ends for any reason the pipe reads EOF and the
  watchdog stops the server and deletes its files, unless it was told first
  that the fixture did so itself (``Guard.release``);
- a record file under ``RECORDS`` (owner pid, what to stop), swept by the
  next run's ``sweep`` if both the owner and its watchdog are gone (the
  machine's whole process tree killed at once).

A pid is only signalled while its command line still names the expected
program, so a reused pid is left alone."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDS = Path(tempfile.gettempdir()) / "tidings-test-servers"
RELEASE = b"released\n"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def _pid_of(spec: dict[str, Any]) -> int | None:
    """The server's pid: given, or the first line of its pid file (PostgreSQL's
    postmaster.pid, read when it is time to stop, as the postmaster writes it
    after ``guard`` was called)."""
    if spec.get("pid"):
        return int(spec["pid"])
    try:
        return int(Path(spec["pid_file"]).read_text().split("\n", 1)[0])
    except (OSError, ValueError, KeyError):
        return None


def stop(spec: dict[str, Any]) -> None:
    """Stop what ``spec`` names (its pid, if it still runs ``program``) and
    delete its folder. Safe to run twice."""
    pid = _pid_of(spec)
    if pid is not None and _alive(pid, spec["program"]):
        # SIGQUIT is PostgreSQL's immediate shutdown (its children go too);
        # SIGKILL is the only sure end for anything else.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT if spec["program"] == "postgres" else signal.SIGKILL)
    shutil.rmtree(spec["root"], ignore_errors=True)


def _alive(pid: int, program: str) -> bool:
    return program in _cmdline(pid)


def sweep() -> list[str]:
    """Stop the servers of earlier runs whose test process and watchdog are
    both gone; the names of the records swept."""
    swept = []
    for path in sorted(RECORDS.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _alive(record["owner"], "python") or _alive(record.get("watchdog", 0), "python"):
            continue
        stop(record["spec"])
        path.unlink(missing_ok=True)
        swept.append(path.name)
    return swept


# The watchdog's whole program: wait for EOF on stdin, then stop the server
# unless released; then drop the record. No import of the tests' packages
# (it runs wherever the interpreter starts).
_WATCHDOG = """
import json, sys
sys.path.insert(0, sys.argv[1])
import leftovers
record = sys.argv[2]
got = sys.stdin.buffer.read()
if not got.endswith(leftovers.RELEASE):
    leftovers.stop(json.load(open(record))["spec"])
import os
try:
    os.unlink(record)
except OSError:
    pass
"""


@dataclass
class Guard:
    """A watchdog on one server; ``release`` once the server is stopped."""

    process: subprocess.Popen[bytes]
    record: Path

    def release(self) -> None:
        """The fixture stopped its server itself: the watchdog exits
        without acting (and drops the record)."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.write(RELEASE)
                self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


def guard(program: str, root: Path, *, pid: int | None = None,
          pid_file: Path | None = None) -> Guard:
    """Make sure the server ``program`` (its ``pid``, or the pid in
    ``pid_file`` at the time of stopping) and its folder ``root`` go when
    this process does, however it ends."""
    RECORDS.mkdir(exist_ok=True)
    record = RECORDS / f"{program}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
    spec = {"program": program, "root": str(root), "pid": pid,
            "pid_file": str(pid_file) if pid_file else None}
    record.write_text(json.dumps({"owner": os.getpid(), "spec": spec}))
    process = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(Path(__file__).parent), str(record)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True)
    record.write_text(json.dumps({"owner": os.getpid(), "watchdog": process.pid,
                                  "spec": spec}))
    return Guard(process, record)
