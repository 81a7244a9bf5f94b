"""Refusing bad setups at start (docs/cluster.md): one serving process per
SQLite file (an ``flock`` on a file beside it), and on PostgreSQL either one
process alone or processes that all share one Redis (a session advisory
lock: exclusive alone, shared in a cluster, so each kind refuses the other).

Taken by ``tidings serve`` before it serves and held until the process ends
(the kernel drops an flock, PostgreSQL an advisory lock, when a process dies,
kill -9 included). The app commands of the CLI take none: they run beside a
server on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from tidings.domain.cluster import NODE_LOCK, StartRefused

DOCS = "docs/cluster.md"


class NodeLock:
    """Held while the process serves; ``release`` lets go (tests, shutdown)."""

    def release(self) -> None:
        raise NotImplementedError


class _FileLock(NodeLock):
    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops its flock
            self._fd = None


def _sqlite_lock(path: Path) -> NodeLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StartRefused(
            f"another tidings serve process uses {path}: an SQLite database has one serving "
            f"process (run several on PostgreSQL with TIDINGS_REDIS_URL: {DOCS})") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return _FileLock(fd)


class _AdvisoryLock(NodeLock):
    """A connection of its own, on a thread and event loop of its own, so
    that the lock lives as long as the process and outside of the
    application's loop and pools."""

    def __init__(self, url: str, shared: bool) -> None:
        self._url = url
        self._shared = shared
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._ready = threading.Event()
        self._outcome: bool | BaseException = False
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._hold(),), name="node-lock", daemon=True)

    def acquire(self) -> bool:
        self._thread.start()
        self._ready.wait()
        if isinstance(self._outcome, BaseException):
            raise StartRefused(f"cannot reach the database to start: {self._outcome}")
        return self._outcome

    async def _hold(self) -> None:
        engine = create_async_engine(self._url, poolclass=NullPool)
        conn: AsyncConnection | None = None
        try:
            conn = await engine.connect()
            how = "pg_try_advisory_lock_shared" if self._shared else "pg_try_advisory_lock"
            self._outcome = bool((await conn.execute(
                text(f"SELECT {how}(:key)"), {"key": NODE_LOCK})).scalar())
            # A session's lock outlives its transaction: none stays open.
            await conn.commit()
        except Exception as exc:
            self._outcome = exc
        self._ready.set()
        try:
            if self._outcome is True:
                await self._stop.wait()
        finally:
            with contextlib.suppress(Exception):
                if conn is not None:
                    await conn.close()
                await engine.dispose()

    def release(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)


def claim(database_url: str, clustered: bool) -> NodeLock:
    """Take this process's place on the database, or refuse to start.
    ``clustered``: the process has a Redis to share with the others."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if clustered:
            raise StartRefused("TIDINGS_REDIS_URL is for processes that share a PostgreSQL "
                               f"database (TIDINGS_DATABASE_URL): SQLite has one process ({DOCS})")
        if not url.database or url.database == ":memory:":
            return _FileLock(os.open(os.devnull, os.O_RDONLY))
        return _sqlite_lock(Path(url.database).resolve())
    lock = _AdvisoryLock(database_url, shared=clustered)
    if lock.acquire():
        return lock
    lock.release()
    if clustered:
        raise StartRefused("a tidings serve process without TIDINGS_REDIS_URL uses this "
                           "PostgreSQL database: every process of a cluster needs the same "
                           f"TIDINGS_REDIS_URL ({DOCS})")
    raise StartRefused("another tidings serve process uses this PostgreSQL database: to run "
                       "several, give each one TIDINGS_REDIS_URL (the same Redis) "
                       f"({DOCS})")
