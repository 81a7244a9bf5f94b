"""A throwaway Redis for the test run: ``redis-server`` from the machine
(scripts/test installs Debian's redis-server when it is missing), on a free
loopback port, its files in a temporary folder, gone when the run ends,
however it ends (tests/leftovers.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests import leftovers
from tests.pg import free_port


def find_redis() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


class RedisServer:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="tidings-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._guard: leftovers.Guard | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        leftovers.sweep()
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.root), "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=open(self.root / "log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
        self._release_guard()
        self._guard = leftovers.guard("redis-server", self.root, pid=self.process.pid)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.root / "log").read_text(errors="replace"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not come up")

    def crash(self) -> None:
        """kill -9: what it held in memory is gone (it saves nothing); its
        files stay, so ``start`` brings it back, empty, on the same port."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def _release_guard(self) -> None:
        if self._guard is not None:
            self._guard.release()
            self._guard = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
        self._release_guard()

    def flush(self) -> None:
        """Empty it (between clusters of the tests)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"FLUSHALL\r\n")
            s.recv(16)
