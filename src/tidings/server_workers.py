"""``tidings serve --workers N``: N server processes on one host sharing one
port, so that one machine's cores are all used (docs/cluster.md).

The parent binds the listening socket once and hands it to each worker
(uvicorn's and gunicorn's way; not ``SO_REUSEPORT``: with one socket per
process, the connections waiting in a stopping process's backlog are reset,
while with one shared socket a draining worker just stops taking them and
the others do). Each worker is a whole ``tidings serve`` process on that
socket and a cluster member, so N > 1 needs PostgreSQL and
``TIDINGS_REDIS_URL``; anything else is refused with one line and status 2.

The parent serves nothing and holds no database connection: it supervises.
A worker that dies is started again after a pause that doubles with each
quick death (0.5 s up to 30 s; back to 0.5 s once one has lived a minute).
SIGTERM or SIGINT to the parent is passed to every worker as SIGTERM (each
drains: server.py's ``DrainingServer``); the parent waits for them and exits
0. A worker refused at its first start (status 2: its line in the log says
why) stops the whole server with status 2, since the others would be too."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from types import FrameType

from sqlalchemy.engine import make_url

from tidings.bus.redis import check_reachable
from tidings.config import Settings
from tidings.domain.cluster import StartRefused

log = logging.getLogger("tidings.server")

FIRST_PAUSE = 0.5
LONGEST_PAUSE = 30.0
# A worker that lived this long died of something new: its pause starts over.
HEALTHY_AFTER = 60.0
# Past the drain's grace, a worker that has still not exited is killed.
STOP_MARGIN = 15.0
REFUSED = 2


def check_setup(settings: Settings) -> None:
    """Several workers are several processes on one database: a cluster."""
    n = settings.workers
    url = settings.resolved_database_url()
    if make_url(url).get_backend_name() != "postgresql":
        raise StartRefused(f"--workers {n} runs {n} processes on one database, which needs "
                           "PostgreSQL (TIDINGS_DATABASE_URL) and TIDINGS_REDIS_URL; "
                           "SQLite has one process (docs/cluster.md)")
    if not settings.redis_url:
        raise StartRefused(f"--workers {n} runs {n} processes, each a cluster member: give "
                           "them TIDINGS_REDIS_URL (docs/cluster.md)")
    check_reachable(settings.redis_url)


# A worker's main: the server on the parent's socket (server.py's
# ``worker_main``; handed in, so this module needs nothing of the server's).
WorkerMain = Callable[[Settings, socket.socket], None]


class Supervisor:
    def __init__(self, settings: Settings, sock: socket.socket, main: WorkerMain) -> None:
        self._settings = settings
        self._main = main
        self._sock = sock
        n = settings.workers
        self._procs: list[SpawnProcess | None] = [None] * n
        self._started = [0.0] * n
        self._quick_deaths = [0] * n
        self._due = [0.0] * n
        self._first = [True] * n
        self._stop = threading.Event()
        self._status = 0
        self._context = multiprocessing.get_context("spawn")

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping the workers", signal.Signals(signum).name)
        self._stop.set()

    def _start(self, i: int) -> None:
        proc = self._context.Process(target=self._main, args=(self._settings, self._sock),
                                     name=f"tidings-worker-{i}")
        proc.start()
        self._procs[i] = proc
        self._started[i] = time.monotonic()
        log.info("worker %d started (pid %s)", i, proc.pid)

    def _check(self, i: int, now: float) -> None:
        proc = self._procs[i]
        if proc is None:
            if now >= self._due[i]:
                self._start(i)
            return
        if proc.is_alive():
            if self._first[i] and now - self._started[i] > HEALTHY_AFTER:
                self._first[i] = False
            return
        proc.join()
        self._procs[i] = None
        if proc.exitcode == REFUSED and self._first[i]:
            log.error("worker %d was refused at its start (its line above says why): "
                      "stopping", i)
            self._status = REFUSED
            self._stop.set()
            return
        self._first[i] = False
        if now - self._started[i] >= HEALTHY_AFTER:
            self._quick_deaths[i] = 0
        pause = min(LONGEST_PAUSE, FIRST_PAUSE * 2 ** self._quick_deaths[i])
        self._quick_deaths[i] += 1
        self._due[i] = now + pause
        log.warning("worker %d (pid %s) exited with status %s: starting another in %.1f s",
                    i, proc.pid, proc.exitcode, pause)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        for i in range(len(self._procs)):
            self._start(i)
        while not self._stop.is_set():
            now = time.monotonic()
            for i in range(len(self._procs)):
                self._check(i, now)
            self._stop.wait(0.2)
        self._stop_all()
        return self._status

    def _stop_all(self) -> None:
        # Nothing new queues on the socket once no worker takes from it.
        self._sock.close()
        alive = [p for p in self._procs if p is not None and p.is_alive()]
        for proc in alive:
            if proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._settings.drain_timeout + STOP_MARGIN
        for proc in alive:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.error("worker pid %s did not stop within the drain's grace: killed",
                          proc.pid)
                proc.kill()
                proc.join()
        log.info("all workers stopped")


def supervise(settings: Settings, sock: socket.socket, main: WorkerMain) -> int:
    """Run the workers until asked to stop; the parent's exit status."""
    try:
        check_setup(settings)
    except StartRefused as refused:
        log.error("not starting: %s", refused)
        return REFUSED
    log.info("starting %d workers on %s:%d", settings.workers, settings.host, settings.port)
    return Supervisor(settings, sock, main).run()
