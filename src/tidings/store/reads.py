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
without a BEGIN and a ROLLBACK round trip per chunk. There the reads of a
chunk that run the same prepared select (``Reads.rows``: a login's first
sync asks four) run as one statement for all their parameter sets
(``Prepared.rows_each``): a chunk of 32 logins' syncs is four round trips,
not 128."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from tidings.store.prepared import Prepared

T = TypeVar("T")
CHUNK = 32

Chunk = list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]]
# (the answered: (future, result), the failed: (future, exception))
Answers = tuple[list[tuple[asyncio.Future[Any], Any]], list[tuple[asyncio.Future[Any], Any]]]


class RowsRead:
    """A read of a prepared select's rows: alone, ``rows``; with others of
    the same select in a chunk, one ``rows_each`` for all (PostgreSQL)."""

    __slots__ = ("params", "prepared")

    def __init__(self, prepared: Prepared, params: Mapping[str, Any]) -> None:
        self.prepared, self.params = prepared, params

    def __call__(self, conn: Connection) -> Sequence[Any]:
        return self.prepared.rows(conn, self.params)


def _together(conn: Connection, chunk: Chunk) -> tuple[list[tuple[asyncio.Future[Any], Any]],
                                                       Chunk]:
    """The chunk's reads of one prepared select, each select's in one
    statement: their answers, and the rest of the chunk (the others, and
    those of a statement that failed, to run alone)."""
    by_select: dict[int, list[tuple[RowsRead, asyncio.Future[Any]]]] = {}
    rest: Chunk = []
    for work, done in chunk:
        if isinstance(work, RowsRead):
            by_select.setdefault(id(work.prepared), []).append((work, done))
        else:
            rest.append((work, done))
    results: list[tuple[asyncio.Future[Any], Any]] = []
    for reads in by_select.values():
        if len(reads) < 2:
            rest += reads
            continue
        try:
            found = reads[0][0].prepared.rows_each(conn, [w.params for w, _ in reads])
        except Exception:
            # Each alone then: on a dead connection Core's fallback in
            # Prepared.rows meets it and invalidates the pool.
            rest += reads
            continue
        results += [(done, rows) for (_, done), rows in zip(reads, found, strict=True)]
    return results, rest


def _run_chunk(conn: Connection, chunk: Chunk, together: bool = False) -> Answers:
    results: list[tuple[asyncio.Future[Any], Any]] = []
    failed: list[tuple[asyncio.Future[Any], Any]] = []
    try:
        if together:
            results, chunk = _together(conn, chunk)
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

    async def rows(self, prepared: Prepared, params: Mapping[str, Any]) -> Sequence[Any]:
        """``prepared.rows(params)``, with the reads of the same select in
        its chunk (``RowsRead``)."""
        return await self.run(RowsRead(prepared, params))

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._pending and self._room():
            chunk, self._pending = self._pending[:CHUNK], self._pending[CHUNK:]
            try:
                self._dispatch(loop, chunk)
            except RuntimeError as exc:  # shut down: the server is stopping
                _answer(([], [(done, exc) for _, done in chunk]))

    def _room(self) -> bool:
        """Whether one more chunk may start now (else it waits for a flush)."""
        return True

    def _dispatch(self, loop: asyncio.AbstractEventLoop, chunk: Chunk) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class ReadThreads(Reads):
    """SQLite: each chunk in one hand-off to a thread of the pool."""

    def __init__(self, engine: Engine, threads: int) -> None:
        super().__init__()
        self._engine = engine
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="db-reader")
        # Each thread keeps its connection between chunks: the pool's
        # checkout and return (its events, the reset's ROLLBACK, the
        # wrappers) cost ~20-30 us a chunk, a third of a one-statement
        # read's work on the thread (bench/journal/perf-reads.md).
        self._local = threading.local()
        self._kept: list[Connection] = []
        self._lock = threading.Lock()

    def _dispatch(self, loop: asyncio.AbstractEventLoop, chunk: Chunk) -> None:
        self._pool.submit(self._read, loop, chunk)

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._engine.connect()
            self._local.conn = conn
            with self._lock:
                self._kept.append(conn)
        return conn

    def _drop(self) -> None:
        conn: Connection | None = self._local.__dict__.pop("conn", None)
        if conn is None:
            return
        with self._lock:
            self._kept.remove(conn)
        with contextlib.suppress(Exception):
            conn.invalidate()
            conn.close()

    def _read(self, loop: asyncio.AbstractEventLoop, chunk: Chunk) -> None:
        try:
            conn = self._connection()
        except Exception as exc:  # no connection
            answers: Answers = ([], [(done, exc) for _, done in chunk])
        else:
            answers = _run_chunk(conn, chunk)
            try:
                # The snapshot ends with the chunk: the next one sees every
                # commit before it was asked, and the log can be checkpointed.
                conn.rollback()
            except Exception:  # it broke: a new one next time
                self._drop()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(_answer, answers)

    async def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            kept, self._kept = self._kept, []
        for conn in kept:
            with contextlib.suppress(Exception):
                conn.close()
        self._engine.dispose()


class ReadTasks(Reads):
    """PostgreSQL: each chunk on one connection of the engine's pool (its
    own: engine.open_database), in a task; at most
    ``RUNNING`` at once, the reads asked for meanwhile wait for one to end
    and go together (as the account writes do: store/account_writes.py).
    Dispatched at every turn, a storm's logins each took a connection with
    their own few reads: past the pool's ten, connections were opened and
    closed around each chunk (asyncpg's connect and its types' introspection
    on both sides), and the reads of one select were seldom together."""

    RUNNING = 4

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self._engine = engine
        self._running: set[asyncio.Task[None]] = set()

    def _room(self) -> bool:
        return len(self._running) < self.RUNNING

    def _dispatch(self, loop: asyncio.AbstractEventLoop, chunk: Chunk) -> None:
        task = loop.create_task(self._read(chunk))
        self._running.add(task)
        task.add_done_callback(lambda t: self._ended(loop, t))

    def _ended(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._pending and not loop.is_closed():
            self._flush(loop)

    async def _read(self, chunk: Chunk) -> None:
        try:
            async with self._engine.connect() as conn:
                answers = await conn.run_sync(_run_chunk, chunk, True)
        except Exception as exc:  # no connection
            answers = ([], [(done, exc) for _, done in chunk])
        except BaseException:
            for _, done in chunk:
                done.cancel()
            raise
        _answer(answers)

    async def close(self) -> None:
        await self._engine.dispose()
