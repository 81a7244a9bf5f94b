"""SQLite's message writer thread: one connection, kept open, on one thread
of its own with the sqlite3 driver. Through aiosqlite every statement is a
round trip between threads; here a whole batch is one hand-off.

The hand-off is a ``SimpleQueue`` and ``call_soon_threadsafe``, not
``run_in_executor``: for a message that commits alone, the executor's
``concurrent.futures`` future chained to an asyncio one (conditions, done
callbacks, state copied across) was about a third of the event loop's
Python work on the writer's behalf and of the thread's own
(bench/writer_alone.py under py-spy --gil).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")

# A job: the future to settle, the work and its arguments, synced; None stops.
_Job = tuple[asyncio.Future[Any], Callable[..., Any] | None, tuple[Any, ...], bool]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    # The awaiting task may have been cancelled meanwhile.
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class BatchThread:
    def __init__(self, engine: Engine,
                 after_commit: Callable[[Any], None] | None = None) -> None:
        self._engine = engine
        # Called on the thread with the driver's connection after each
        # transaction that committed, once its answer is handed back
        # (store/checkpointer.py).
        self._after_commit = after_commit
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        # The loop that started the thread (None: no thread).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: Connection | None = None  # touched only on the thread
        # Its driver connection, and a cursor on it for BEGIN (asked of
        # SQLAlchemy's pool wrapper once, not per batch).
        self._raw: Any = None
        self._begin: Any = None
        # The connection's own ``synchronous`` level, put back after an
        # unsynced transaction (FULL as the engine sets it; a bench's OFF
        # stays OFF: bench/writer_alone.py --unsynced).
        self._level = "FULL"

    @property
    def engine(self) -> Engine:
        """The engine of the thread's connection (for its ``connect`` events)."""
        return self._engine

    async def run(self, work: Callable[..., T], *args: Any, synced: bool = True) -> T:
        """``work(connection, *args)`` in one transaction on the thread;
        ``synced`` False: its commit does not wait for the disk."""
        loop = self._loop
        if loop is None:
            # Kept while the thread runs: ``get_running_loop`` asks the
            # kernel for the process id on each call (Python 3.11).
            loop = self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(target=self._serve, name="message-writer",
                                            daemon=True)
            self._thread.start()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((future, work, args, synced))
        return await future

    async def close(self) -> None:
        if self._thread is not None:
            # The connection is closed on its thread (None as the work).
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._jobs.put((future, None, (), True))
            self._jobs.put(None)
            await future
            await asyncio.to_thread(self._thread.join)
            self._thread = None
            self._loop = None
        self._engine.dispose()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, work, args, synced = job
            result: Any = None
            error: BaseException | None = None
            if work is None:
                self._close_conn()
            else:
                try:
                    result = self._in_transaction(work, args, synced)
                except BaseException as exc:  # handed to the awaiting task
                    error = exc
            # Not contextlib.suppress: an object made per batch (414 ns
            # against 12 for the try, timeit).
            try:  # noqa: SIM105
                future.get_loop().call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:
                pass  # a loop closed meanwhile has nobody left to answer
            if self._after_commit is not None and error is None and self._raw is not None:
                self._after_commit(self._raw)

    def _in_transaction(self, work: Callable[..., T], args: tuple[Any, ...],
                        synced: bool) -> T:
        """The transaction is the driver's (BEGIN IMMEDIATE and COMMIT on the
        sqlite3 connection, which this engine leaves to us: see
        ``engine.open_database``): SQLAlchemy's begin and commit, with their
        events and states, were a sixth of a lone batch's Python on this
        thread. A Core statement in ``work`` autobegins SQLAlchemy's
        transaction inside ours (no BEGIN of its own), ended after."""
        if self._conn is None:
            self._conn = self._engine.connect()
            self._raw = self._conn.connection.driver_connection
            assert self._raw is not None
            self._begin = self._raw.cursor()
            self._level = str(self._raw.execute("PRAGMA synchronous").fetchone()[0])
        conn, raw = self._conn, self._raw
        sound = False  # a failure after which the connection is kept
        try:
            if not synced:
                # Committed without its own fsync: the WAL is appended in
                # order, so the next synced commit makes this one durable
                # too; a crash before it loses this transaction whole.
                raw.execute("PRAGMA synchronous=NORMAL")
            try:
                self._begin.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn, *args)
                except BaseException as exc:
                    raw.rollback()
                    # A constraint refused a row (a resend that skipped the
                    # dedup read, core.py): rolled back, the connection and
                    # its statement cache are as good as before (raised by
                    # the driver, or through SQLAlchemy as writer/conflicts.resent reads it).
                    sound = isinstance(getattr(exc, "orig", exc), sqlite3.IntegrityError)
                    raise
                raw.commit()
            finally:
                if not synced:
                    raw.execute(f"PRAGMA synchronous={self._level}")
            if conn.in_transaction():
                conn.commit()  # SQLAlchemy's own state: the driver has committed
            return result
        except BaseException:
            if sound:
                if conn.in_transaction():
                    conn.rollback()  # SQLAlchemy's own state: the driver has rolled back
                raise
            self._conn = self._raw = self._begin = None  # a fresh connection next time
            conn.close()
            raise

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = self._raw = self._begin = None
