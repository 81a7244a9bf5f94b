"""PostgreSQL's search index, kept or dropped by the ``search_index``
setting (issue 19): ``ix_message_texts_body_trgm``, the pg_trgm GIN index
of ``message_texts.body`` (migration 0009), is ~15 us of a message's ~26 at
the cluster's saturation (bench/journal/perf-text.md). The text rows stay
either way (written in the message's transaction): without the index a
search reads the texts of the conversations it reaches, exactly as the
planner does for a common word.

At start a node with ``none`` drops the index and one with ``trigram``
makes it if it is missing or INVALID (a ``CREATE INDEX CONCURRENTLY``
cut short by a crash or a stop leaves one: ``pg_index.indisvalid``), both
CONCURRENTLY (outside a transaction: the writers go on), in the
background: a build of a long history takes minutes and the node serves
meanwhile (search exact, only slower). The nodes of a cluster share the
index: an advisory lock serializes their changes, and a node that finds
the other setting's state logs a warning (the last node started wins;
docs/search.md). The migration still makes the index, and schema
comparisons leave it out (schema.py ``skipped``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.cluster import SEARCH_INDEX_LOCK
from tidings.store.engine import Database

log = logging.getLogger(__name__)

INDEX = "ix_message_texts_body_trgm"
_STATE = text("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(:name)")
_DROP = f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"
_CREATE = (f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON message_texts"
           " USING gin (body gin_trgm_ops)")


async def index_state(conn: AsyncConnection) -> str:
    """``valid``, ``invalid`` (a build cut short) or ``absent``."""
    valid = (await conn.execute(_STATE, {"name": INDEX})).scalar_one_or_none()
    return "absent" if valid is None else "valid" if valid else "invalid"


async def settle(db: Database, wanted: bool) -> str:
    """Make the index present and valid (``wanted``) or absent, under the
    cluster's advisory lock; the state found before ("" on SQLite: nothing to do)."""
    if db.dialect != "postgresql":
        return ""
    async with db.writer.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SEARCH_INDEX_LOCK})
        try:
            found = await index_state(conn)
            if not wanted and found != "absent":
                log.warning("search_index=none: dropping %s (%s); search stays exact, slower"
                            " on long histories. A node started with search_index=trigram"
                            " would make it again: set the same value on every node",
                            INDEX, found)
                await conn.exec_driver_sql(_DROP)
            elif wanted and found != "valid":
                if found == "invalid":
                    log.warning("search_index=trigram: %s is INVALID (a build was cut"
                                " short): building it again", INDEX)
                    await conn.exec_driver_sql(_DROP)
                else:
                    log.warning("search_index=trigram: %s is missing (a node with"
                                " search_index=none dropped it?): building it in the"
                                " background; search stays exact meanwhile. Set the same"
                                " value on every node", INDEX)
                await conn.exec_driver_sql(_CREATE)
                log.info("search_index=trigram: %s built", INDEX)
            return found
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SEARCH_INDEX_LOCK})


class TrigramIndex:
    """The background task that settles the index at a node's start
    (PostgreSQL; nothing on SQLite, whose FTS5 is fed or not by the steps)."""

    def __init__(self, db: Database, wanted: bool) -> None:
        self._db = db
        self._wanted = wanted
        self._task: asyncio.Task[str] | None = None

    def start(self) -> None:
        if self._db.dialect == "postgresql":
            self._task = asyncio.create_task(settle(self._db, self._wanted),
                                             name="search-index")
            self._task.add_done_callback(_report)

    async def settled(self) -> str | None:
        """Wait for the task (tests, benches): the state it found."""
        return None if self._task is None else await self._task

    async def stop(self) -> None:
        # A build cancelled here leaves an INVALID index: the next start
        # with trigram finds it and builds again.
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # ``_report``'s
                await self._task


def _report(task: asyncio.Task[str]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("search_index: settling %s failed: %r (retried at the next start)",
                  INDEX, exc)
