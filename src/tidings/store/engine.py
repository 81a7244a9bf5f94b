"""Opening the database: engine options per dialect, and migrations at start.

Alembic is imported only when the schema is behind: a database already at
the newest revision (every start but the first after an upgrade) is checked
with one query, which keeps a ``tidings`` command quick (alembic's import is
about a third of a second)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, Row, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tidings.domain.cluster import MIGRATION_LOCK
from tidings.store.batch_thread import BatchThread
from tidings.store.checkpointer import Checkpointer
from tidings.store.prepared import Prepared
from tidings.store.reads import Reads, ReadTasks, ReadThreads
from tidings.store.sqlite_lib import malloc_counters_off
from tidings.store.write_connection import WriteConnection

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


@dataclass(frozen=True)
class Database:
    """Reads and writes go through separate engines. On SQLite every write
    transaction starts with ``BEGIN IMMEDIATE``: a deferred one that reads
    first could not be upgraded once another connection had committed
    (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out). Reads stay
    deferred, so they never queue behind writes."""

    reader: AsyncEngine
    writer: AsyncEngine
    # SQLite only: where message batches are written (see run_write).
    batch: BatchThread | None = field(default=None, compare=False)
    # Where the hot paths' reads run (see read).
    reads: Reads | None = field(default=None, compare=False)
    # PostgreSQL only: the message writer's connection (see run_write).
    held: WriteConnection | None = field(default=None, compare=False)
    # SQLite with checkpoints of its own (see open_database).
    checkpointer: Checkpointer | None = field(default=None, compare=False)

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    def driver_sql(self, text: str) -> str:
        """SQL written with ``?`` placeholders, in the driver's own style.

        The message writer's statements are run as driver SQL: at thousands of
        rows a second, building Core parameters per row cost a quarter of the
        server's CPU (bench/chat_load.py with py-spy)."""
        if self.dialect != "postgresql":
            return text
        parts = text.split("?")
        return "".join(f"{p}${i}" for i, p in enumerate(parts[:-1], 1)) + parts[-1]

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` in a read transaction, its results
        fetched inside it, with the other reads asked for in the same turn
        of the event loop (store/reads.py): on SQLite on a reader thread in
        one hand-off, on PostgreSQL over asyncpg through ``run_sync`` in
        autocommit (one snapshot per statement, as READ COMMITTED gave). For
        the reads of a login and its first sync, the push worker's, and a
        user's common reads (history, conversations, groups, profiles,
        friends, receipts: ``rows``, ``first``, ``scalar``) and the rarer
        ones an op waits on (accounts, apps, mutes, links, home accounts and
        their recovery addresses, operators, a user's push sends); sweeps,
        stats, broadcasts, search and the callbacks outbox's admin listing
        still use ``reader``."""
        if self.reads is not None:
            return await self.reads.run(work)
        async with self.reader.connect() as conn:
            return await conn.run_sync(work)

    async def rows(self, stmt: Executable, params: Mapping[str, Any] | None = None
                   ) -> Sequence[Row[Any]]:
        """One statement's rows, as a ``read``: a user's common reads
        (history, groups, profiles, friends...) went through ``reader``,
        whose aiosqlite round trips cost ~0.4 ms of CPU for a small select
        on SQLite, against ~0.08 ms here (bench/read_paths.py)."""
        return await self.read(lambda conn: conn.execute(stmt, params).all())

    async def first(self, stmt: Executable, params: Mapping[str, Any] | None = None
                    ) -> Row[Any] | None:
        """One statement's first row (or None), as a ``read``."""
        return await self.read(lambda conn: conn.execute(stmt, params).first())

    async def scalar(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> Any:
        """One statement's first column of its first row (or None), as a ``read``."""
        return await self.read(lambda conn: conn.execute(stmt, params).scalar())

    async def read_rows(self, prepared: Prepared, params: Mapping[str, Any]) -> Sequence[Any]:
        """``prepared.rows`` as a ``read``: on PostgreSQL one statement with
        the same select's other reads of its chunk (store/reads.py)."""
        if self.reads is not None:
            return await self.reads.rows(prepared, params)
        return await self.read(lambda conn: prepared.rows(conn, params))

    async def run_write(self, work: Callable[..., T], *args: Any, synced: bool = True) -> T:
        """Run ``work(connection, *args)`` in one write transaction: on SQLite
        on the batch thread, on PostgreSQL on the writer's connection
        (``held``) through ``run_sync``.
        ``synced`` False (SQLite): the commit does not wait for the disk, for
        work that may be lost in a crash and done again (writer.rows.LaterWork)."""
        if self.batch is not None:
            return await self.batch.run(work, *args, synced=synced)
        if self.held is not None:
            return await self.held.run(work, *args)
        async with self.writer.begin() as conn:
            return await conn.run_sync(work, *args)

    async def dispose(self) -> None:
        if self.held is not None:
            await self.held.close()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
        if self.batch is not None:
            await self.batch.close()
        if self.reads is not None:
            await self.reads.close()
        if self.checkpointer is not None:
            self.checkpointer.stop()


def _generic_plans(dbapi_conn: Any, _record: Any) -> None:
    # Straight on asyncpg: through the adapter's cursor the SET would be in
    # a transaction of its own, and undone if that were rolled back.
    dbapi_conn.run_async(lambda c: c.execute("SET plan_cache_mode = force_generic_plan"))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, *, checkpoints: bool = False) -> None:
    # We issue BEGIN ourselves (see _begin); the driver must not.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # WAL lets readers (and an operator's reporting tools) read while we write;
    # synchronous=FULL fsyncs the log at every commit, so an acked message
    # survives power loss, not only a crashed process.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # A recall or an edit overwrites content: zero the bytes it frees, so the
    # old content is not left readable in free space of the file.
    cursor.execute("PRAGMA secure_delete=ON")
    if checkpoints:
        # The checkpointer's thread copies the log; no commit does
        # (store/checkpointer.py).
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _sqlite_setup(engine: Engine, *, immediate: bool, begins: bool = True,
                  checkpoints: bool = False) -> None:
    """Pragmas on connect; ``begins``: SQLAlchemy's transactions issue our
    BEGIN (not for the batch thread's engine, whose transactions are the
    driver's own: store/batch_thread.py); ``checkpoints``: a checkpointer
    copies the log, the connection's commits do not."""
    event.listen(engine, "connect", partial(_sqlite_pragmas, checkpoints=checkpoints))
    if not begins:
        return
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    def _begin(conn: Connection) -> None:
        # On the driver's cursor: a full SQLAlchemy execution for one BEGIN
        # is a noticeable part of a small batch's cost.
        cursor = conn.connection.cursor()
        cursor.execute(begin)
        cursor.close()

    event.listen(engine, "begin", _begin)


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int,
                   checkpoints: bool) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60)
    _sqlite_setup(engine.sync_engine, immediate=immediate, checkpoints=checkpoints)
    return engine


def open_database(url: str, checkpoint_pages: int = 0) -> Database:
    """``checkpoint_pages`` (SQLite, a file): a thread of its own checkpoints
    the log once it holds that many pages not yet copied, not the commits
    (store/checkpointer.py); 0 leaves it to SQLite (a short-lived command)."""
    if url.startswith("sqlite"):
        # Before this process's first connection (store/sqlite_lib.py).
        malloc_counters_off()
        path = url.split("///", 1)[-1]
        checkpointer = None
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            if checkpoint_pages > 0:
                checkpointer = Checkpointer(path, checkpoint_pages)
                checkpointer.start()
        own = checkpointer is not None
        # One write connection: SQLite has one writer anyway, and waiting for
        # the pool is cheaper than waiting on the file lock.
        batch = create_engine(url.replace("+aiosqlite", "", 1), pool_size=1, max_overflow=0,
                              pool_timeout=60)
        _sqlite_setup(batch, immediate=True, begins=False, checkpoints=own)
        # Any reader thread may take any of these connections (one at a time).
        reads = create_engine(url.replace("+aiosqlite", "", 1), pool_size=4, max_overflow=0,
                              pool_timeout=60, connect_args={"check_same_thread": False})
        _sqlite_setup(reads, immediate=False, checkpoints=own)
        writer = _sqlite_engine(url, immediate=True, pool_size=1, checkpoints=own)
        if checkpointer is not None:
            # Its thread sleeps at idle until a commit of this process: the
            # batch thread's (after_commit) or this engine's (accounts,
            # leases: noted as they commit, looked at after).
            noted = checkpointer.noted
            event.listen(writer.sync_engine, "commit", lambda _conn: noted())
        return Database(reader=_sqlite_engine(url, immediate=False, pool_size=8,
                                              checkpoints=own),
                        writer=writer,
                        batch=BatchThread(batch, checkpointer.after_commit
                                          if checkpointer is not None else None),
                        reads=ReadThreads(reads, 4), checkpointer=checkpointer)
    # No pool_pre_ping: its ping through asyncpg is a transaction of its own
    # (BEGIN, ';', ROLLBACK) before every checkout, and a small read's
    # Python cost went from 409-506 to 529-675 us with it (bench/
    # pg_read_cost.py). A connection that PostgreSQL dropped (a restart)
    # fails the one statement that meets it; SQLAlchemy then invalidates
    # every connection of the pool opened before, and the next checkout
    # connects afresh (tests/test_pg_restart.py).
    engine = create_async_engine(url, pool_size=10, max_overflow=10)
    # The hot paths' reads outside a transaction: under READ COMMITTED each
    # statement of a transaction takes a snapshot of its own anyway, so
    # BEGIN and the pool's ROLLBACK were two round trips that bought nothing
    # (a quarter of a returning login's CPU: bench/login_storm.py, py-spy).
    # On connections of their own, one per chunk that may run (store/
    # reads.py), whose prepared statements keep one generic plan: with
    # PostgreSQL's default each execution of a login's reads was planned
    # again, and planning a chunk's one statement (its LATERAL subquery)
    # cost more than running it (bench/pg_login_split.py, track_planning).
    # These reads are equalities on indexed keys, whose plan does not
    # depend on the values. The plan mode is set once a connection is made,
    # not as a start-up parameter (a PgBouncer in front refuses those it
    # does not know).
    chunks = create_async_engine(url, pool_size=ReadTasks.RUNNING, max_overflow=0,
                                 pool_timeout=60, isolation_level="AUTOCOMMIT")
    event.listen(chunks.sync_engine, "connect", _generic_plans)
    gathered = ReadTasks(chunks)
    return Database(reader=engine, writer=engine, reads=gathered,
                    held=WriteConnection(engine))


# (done, total, revision) after each migration applied.
Progress = Callable[[int, int, str], None]


_ASSIGNED = r"^{}(?:\s*:[^=\n]+)?\s*=\s*(?:[\"']([^\"']+)[\"']|None)\s*$"


@cache
def revisions() -> tuple[str, ...]:
    """The migrations' revisions, oldest first, read from their files (the
    chain alembic follows; tests/test_cli_ops.py checks it is alembic's).
    Empty when a file does not read as one link of a single chain: then
    alembic itself is asked at every start."""
    parent: dict[str, str | None] = {}
    files = [p for p in (MIGRATIONS / "versions").glob("*.py") if p.name != "__init__.py"]
    for path in files:
        source = path.read_text()
        rev = re.search(_ASSIGNED.format("revision"), source, re.M)
        down = re.search(_ASSIGNED.format("down_revision"), source, re.M)
        if not rev or not down or not rev.group(1):
            return ()
        parent[rev.group(1)] = down.group(1)
    children = {down: rev for rev, down in parent.items()}
    chain: list[str] = []
    current = children.get(None)
    while current is not None:
        chain.append(current)
        current = children.get(current)
    return tuple(chain) if len(chain) == len(files) else ()


async def schema_revision(db: Database) -> str | None:
    """The database's revision; None for a database with no schema yet."""
    try:
        async with db.reader.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalar()
    except DBAPIError:  # no such table: a new database
        return None


def _upgrade(connection: Connection, progress: Progress | None, total: int) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    done = [0]

    def applied(**kw: Any) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total, kw["step"].up_revision_id)

    config.attributes["on_version_apply"] = applied
    command.upgrade(config, "head")


async def migrate(db: Database, progress: Progress | None = None) -> bool:
    """Bring the schema to the newest revision; safe to run at every start.
    True when the database had no schema before (a new database)."""
    current = await schema_revision(db)
    chain = revisions()
    if chain and current == chain[-1]:
        return False
    pending = len(chain) - (chain.index(current) + 1 if current in chain else 0)
    async with db.writer.begin() as conn:
        if db.dialect == "postgresql":
            # Processes started together migrate one after the other (the
            # lock ends with the transaction; DDL is transactional there).
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        await conn.run_sync(_upgrade, progress, pending)
    return current is None
