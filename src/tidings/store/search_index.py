"""SQLite's FTS5 index of message texts, written after the commits (issue 19).

A trigram index costs ~70 us of CPU for a message that commits alone and
~20 at 64 in one statement: in the message's transaction it was about a
third of the writer's work at low rates. So the message's transaction
writes only its ``message_texts`` row, and ``FtsIndex`` (the writer's
``LaterWork`` for search) puts the rows above the watermark into the index
when the writer is idle: once ``BATCH`` rows wait, or ``DELAY`` seconds
after the first, in a transaction not synced to disk of its own, which
moves the watermark with the rows (migration 0021). Search reads the rows
above the watermark with LIKE besides the index (store/search.py), so
every committed message is found from its commit on. A crash may lose the
step (not the rows): at start the watermark says what is left, and the
writer's first idle moment indexes it, ``CHUNK`` rows a step.

Ids: SQLite gives a new row the largest id + 1, which after the newest
indexed row was deleted (a recall) would be at or below the watermark and
never indexed. ``TextRows`` gives the ids itself on SQLite (``next_id``),
always above the watermark.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.store.writer.rows import LaterWork

# Rows that make a step due at once, and how long a smaller tail may wait (s).
BATCH = 64
DELAY = 5.0
# Rows per step (a catch-up at start takes several; requests go between).
CHUNK = 256

WATERMARK_SQL = "SELECT indexed_to FROM message_texts_fts_indexed"


class FtsIndex(LaterWork):
    """The FTS5 step and what waits for it (state touched on the writer's
    thread and, between batches, by the event loop: the writer runs one at
    a time)."""

    def __init__(self, batch: int = BATCH, delay: float = DELAY) -> None:
        self._batch = batch
        self._delay = delay
        # Rows written since the last step; None until a first step has
        # looked (at start: what a crash left is not known).
        self._waiting: int | None = None
        self._first = 0.0  # when the oldest waiting row was written (monotonic)
        self._next_id = 0  # 0: read from the database at first use

    def next_ids(self, cursor: DBAPICursor, n: int) -> int:
        """Reserve ``n`` ids for new rows (see the module); the first."""
        if not self._next_id:
            cursor.execute("SELECT max(coalesce((SELECT max(id) FROM message_texts), 0),"
                           f" ({WATERMARK_SQL})) + 1")
            self._next_id = int(_one(cursor)[0])
        first = self._next_id
        self._next_id += n
        return first

    def written(self, n: int) -> None:
        """``n`` rows went into the batch's transaction."""
        if self._waiting == 0:
            self._first = time.monotonic()
        if self._waiting is not None:
            self._waiting += n

    def wait(self) -> float | None:
        if self._waiting is None or self._waiting >= self._batch:
            return 0.0
        if not self._waiting:
            return None
        return self._first + self._delay - time.monotonic()

    def run(self, conn: Connection) -> None:
        cursor = conn.connection.cursor()
        try:
            done = index_step(cursor, CHUNK)
        finally:
            cursor.close()
        # A full chunk may have left more: look again at once.
        self._waiting = None if done == CHUNK else 0


def index_step(cursor: DBAPICursor, chunk: int) -> int:
    """Index up to ``chunk`` rows above the watermark and move it past them;
    how many rows there were."""
    cursor.execute(WATERMARK_SQL)
    (indexed_to,) = _one(cursor)
    cursor.execute("SELECT max(id), count(*) FROM (SELECT id FROM message_texts"
                   " WHERE id > ? ORDER BY id LIMIT ?)", (indexed_to, chunk))
    top, count = _one(cursor)
    if count:
        cursor.execute("INSERT INTO message_texts_fts (rowid, body)"
                       " SELECT id, body FROM message_texts WHERE id > ? AND id <= ?",
                       (indexed_to, top))
        cursor.execute("UPDATE message_texts_fts_indexed SET indexed_to = ?", (top,))
    return int(count)


def _one(cursor: DBAPICursor) -> Sequence[Any]:
    row = cursor.fetchone()
    assert row is not None  # an aggregate, or the watermark's one row
    return tuple(row)
