"""The hot paths' reads (``Database.read``), gathered: the reads asked for
in the same turn of the event loop run together, up to ``CHUNK`` in one
transaction on one connection, and are answered together. In a reconnect
storm a hundred logins' reads cost one hand-off (SQLite) or one pooled
connection and transaction (PostgreSQL) instead of a hundred. The
transaction begins after every one of them was asked for, so each still
sees every commit that came before it was asked; one that fails fails
alone (the transaction is rolled back and the next ones go on).

On SQLite a chunk runs on a thread of a small pool over the sqlite3
driver: through aiosqlite each DBAPI call of a read (cursor, execute,
fetch, close, rollback) is a round trip between threads, ~0.8 ms of CPU
for a one-row query (bench/login_storm.py). On PostgreSQL it runs over
asyncpg through ``run_sync``, in autocommit (engine.open_database): each
statement sees every commit before it, as in a READ COMMITTED transaction,
without a BEGIN and a ROLLBACK round trip per chunk."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
CHUNK = 32

Chunk = list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]]
# (the answered: (future, result), the failed: (future, exception))
Answers = tuple[list[tuple[asyncio.Future[Any], Any]], list[tuple[asyncio.Future[Any], Any]]]


def _run_chunk(conn: Connection, chunk: Chunk) -> Answers:
    results: list[tuple[asyncio.Future[Any], Any]] = []
    failed: list[tuple[asyncio.Future[Any], Any]] = []
    try:
        for work, done in chunk:
            try:
                results.append((done, work(conn)))
            except Exception as exc:
                failed.append((done, exc))
                conn.rollback()  # the next one starts clean
    except Exception as exc:  # a failed rollback: the rest fail with it
        answered = {id(done) for done, _ in results + failed}
        failed += [(done, exc) for _, done in chunk if id(done) not in answered]
    return results, failed


def _answer(answers: Answers) -> None:
    results, failed = answers
    for done, value in results:
        if not done.done():  # else its caller was cancelled
            done.set_result(value)
    for done, exc in failed:
        if not done.done():
            done.set_exception(exc)


class Reads:
    def __init__(self) -> None:
        self._pending: Chunk = []

    async def run(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush, loop)
        self._pending.append((work, done))
        return await done

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        pending, self._pending = self._pending, []
        for i in range(0, len(pending), CHUNK):
            chunk = pending[i:i + CHUNK]
            try:
                self._dispatch(loop, chunk)
            except RuntimeError as exc:  # shut down: the server is stopping
                _answer(([], [(done, exc) for _, done in chunk]))

    def _dispatch(self, loop: asyncio.AbstractEventLoop, chunk: Chunk) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to stop here (the PostgreSQL engine is the writer's)."""


class ReadThreads(Reads):
    """SQLite: each chunk in one hand-off to a thread of the pool."""

    def __init__(self, engine: Engine, threads: int) -> None:
        super().__init__()
        self._engine = engine
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="db-reader")

    def _dispatch(self, loop: asyncio.AbstractEventLoop, chunk: Chunk) -> None:
        self._pool.submit(self._read, loop, chunk)

    def _read(self, loop: asyncio.AbstractEventLoop, chunk: Chunk) -> None:
        try:
            with self._engine.connect() as conn:
                answers = _run_chunk(conn, chunk)
        except Exception as exc:  # no connection
            answers = ([], [(done, exc) for _, done in chunk])
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(_answer, answers)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._engine.dispose()


class ReadTasks(Reads):
    """PostgreSQL: each chunk on one pooled connection, in a task."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self._engine = engine
        self._running: set[asyncio.Task[None]] = set()

    def _dispatch(self, loop: asyncio.AbstractEventLoop, chunk: Chunk) -> None:
        task = loop.create_task(self._read(chunk))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _read(self, chunk: Chunk) -> None:
        try:
            async with self._engine.connect() as conn:
                answers = await conn.run_sync(_run_chunk, chunk)
        except Exception as exc:  # no connection
            answers = ([], [(done, exc) for _, done in chunk])
        except BaseException:
            for _, done in chunk:
                done.cancel()
            raise
        _answer(answers)
