"""The test run's PostgreSQL and Redis go with it however it ends
(tests/leftovers.py): a killed test process's watchdog stops its server, a
fixture that stopped its server itself releases the watchdog, and a record
whose owner and watchdog are both gone is swept by the next run. A ``sleep``
process stands for the server (the mechanism is the same, and it costs
nothing to start)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests import leftovers

ROOT = Path(__file__).resolve().parent.parent

# An owner process (as a pytest worker is): starts a stand-in server in a
# session of its own (as pg_ctl does), guards it, says so, and waits.
OWNER = """
import subprocess, sys, time
from pathlib import Path
from tests import leftovers
root = Path(sys.argv[1])
server = subprocess.Popen(["sleep", "300"], start_new_session=True)
guard = leftovers.guard("sleep", root, pid=server.pid)
print(server.pid, flush=True)
if sys.argv[2] == "release":
    server.kill(); server.wait(); guard.release()
    print("released", flush=True)
time.sleep(300)
"""


def gone(pid: int) -> bool:
    """Not running any more (a zombie waiting for its parent counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return status in ("Z", "X")


def wait_until(condition: Callable[[], bool], what: str, limit: float = 30) -> None:
    """Poll ``condition`` (a liveness bound, not a speed check)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def owner(root: Path, mode: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([sys.executable, "-c", OWNER, str(root), mode], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def records_of(pid: int) -> list[Path]:
    return list(leftovers.RECORDS.glob(f"sleep-{pid}-*.json"))


def test_a_killed_owner_takes_its_server_and_files_with_it(tmp_path: Path) -> None:
    root = tmp_path / "server"
    root.mkdir()
    process, server = owner(root, "keep")
    assert not gone(server) and len(records_of(process.pid)) == 1
    process.send_signal(signal.SIGKILL)  # no finally, no atexit
    process.wait()
    wait_until(lambda: gone(server), "the watchdog did not stop the server")
    wait_until(lambda: not root.exists() and not records_of(process.pid),
               "the watchdog left the folder or the record")


def test_a_released_guard_leaves_alone_what_the_fixture_stopped(tmp_path: Path) -> None:
    root = tmp_path / "server"
    root.mkdir()
    process, _ = owner(root, "release")
    assert process.stdout is not None and process.stdout.readline() == "released\n"
    # The watchdog is gone with its record, so the owner's death acts on nothing.
    wait_until(lambda: not records_of(process.pid), "the released watchdog kept its record")
    process.kill()
    process.wait()
    assert root.exists()


def test_the_next_run_sweeps_what_an_earlier_one_left(tmp_path: Path) -> None:
    root = tmp_path / "server"
    root.mkdir()
    server = subprocess.Popen(["sleep", "300"], start_new_session=True)
    # Popen returns once the child is exec'ing, before its command line is
    # readable (1 run in ~20 read ''): a real server has long been running
    # when a sweep looks at it.
    wait_until(lambda: "sleep" in leftovers._cmdline(server.pid), "sleep did not start")
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive_owner = {"owner": os.getpid(), "watchdog": 0,
                   "spec": {"program": "sleep", "root": str(root), "pid": server.pid}}
    leftovers.RECORDS.mkdir(exist_ok=True)
    mine = leftovers.RECORDS / f"sleep-{os.getpid()}-test.json"
    left = leftovers.RECORDS / f"sleep-{dead.pid}-test.json"
    try:
        # Its owner still runs: not touched.
        mine.write_text(json.dumps(alive_owner))
        assert mine.name not in leftovers.sweep()
        assert server.poll() is None and root.exists()
        mine.unlink()
        # Owner and watchdog gone (the whole tree was killed): swept.
        left.write_text(json.dumps({**alive_owner, "owner": dead.pid}))
        assert left.name in leftovers.sweep()
        assert server.wait(30) == -signal.SIGKILL
        assert not root.exists() and not left.exists()
    finally:
        server.kill()
        mine.unlink(missing_ok=True)
        left.unlink(missing_ok=True)
