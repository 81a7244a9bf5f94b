"""A throwaway PostgreSQL cluster for the test run: initdb in a temporary
folder, listening on a free loopback port, gone when the run ends, however
it ends (tests/leftovers.py: a watchdog, and a sweep of what an earlier run
left).

The binaries come from the machine (scripts/test installs Debian's
postgresql when they are missing). PostgreSQL refuses to run as root, so as
root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests import leftovers


def find_bin_dir() -> Path | None:
    on_path = shutil.which("pg_ctl")
    candidates = ([str(Path(on_path).resolve().parent)] if on_path else []) + sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="tidings-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        self._counter = 0
        self._template: str | None = None
        self._guard: leftovers.Guard | None = None

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        leftovers.sweep()
        # Guarded before it starts: a run killed during pg_ctl's wait still
        # stops the postmaster (its pid file is read when it is time).
        self._guard = leftovers.guard("postgres", self.root,
                                      pid_file=self.data / "postmaster.pid")
        if self._as_root:
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync=off "
                   "-c max_connections=400 -c synchronous_commit=on")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-t", "60",
                  "-l", str(self.root / "log"), "start")

    def restart(self) -> None:
        """Stop at once (as a crash would: recovery from the WAL at start)
        and start again on the same port; open connections die."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60",
                  "-l", str(self.root / "log"), "restart")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._guard is not None:
                self._guard.release()

    def new_database(self, *, empty: bool = False) -> str:
        """A fresh database at the newest schema revision (a copy of a
        migrated template: tests/templates.py), or ``empty`` for the tests of
        the migrations themselves; returns its SQLAlchemy URL."""
        if empty:
            return self._create()
        if self._template is None:
            from tests.templates import migrate_template

            name = self._create()
            migrate_template(name)
            self._template = name.rsplit("/", 1)[1]
        return self._create(template=self._template)

    def _create(self, template: str | None = None) -> str:
        self._counter += 1
        name = f"t{os.getpid()}_{self._counter}_{int(time.time() * 1000) % 100000}"
        psql = shutil.which("psql") or str(self.bin_dir / "psql")
        sql = f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")
        subprocess.run([psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-c", sql], check=True, capture_output=True, timeout=60)
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"
