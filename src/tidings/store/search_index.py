"""SQLite's search rows, written after the commits (issue 19).

A trigram index costs ~70 us of CPU for a message that commits alone and
~20 at 64 in one statement, and the ``message_texts`` row two WAL pages
of a lone commit (of ~10). So on SQLite the message's transaction writes
neither: ``FtsIndex`` (the writer's ``LaterWork`` for search) makes the
text rows of the ``messages`` rows committed past one pointer (migration
0024: ``built_to``, a rowid of ``messages``) and puts the text rows above
another into the index (migration 0021: ``indexed_to``, an id of
``message_texts``), both in one transaction not synced to disk of its
own, which moves the pointers with the rows. It runs when the writer is
idle, once ``BATCH`` messages wait, or ``SMALL_BATCH`` once the oldest has
waited ``PAUSE`` (steps grow with the rate), or ``DELAY`` seconds after
the first, and between batches when ``CHUNK`` wait (a writer at
saturation is never idle: there a step takes what came since the last,
so the rows stay within about a batch of the messages). Search matches
the messages past ``built_to`` in Python and the text rows above
``indexed_to`` with LIKE besides the index (store/search.py), so every
committed message is found from its commit on. A crash may lose the
step (never a message): at start the pointers say what is left, and the
writer's first idle moment (or batch) does it, ``CHUNK`` rows a step (or
what came since the last step, if more). After a step the pointers and
the newest ids say what still waits (``backlog``).

Changes (store/search.py ``TextRows.change``) stay in the change's
transaction for a message whose row is built; one past ``built_to`` is
left to the step, which reads the message as it is then (edited text,
recalled: none).

Ids (migration 0030): a text row's id is its message's rowid in
``messages``, so a recall or an edit finds it through ``messages``' key,
with no index of its own (``uq_message_texts_message`` was a third of the
step). The step walks those rowids in order, above the watermark, except
after the newest messages were deleted (a group disbanded, retention):
SQLite then gives their rowids again (0024's trigger brings ``built_to``
down), at or below the watermark, and ``build_step`` indexes those rows
itself; an edit's new row likewise (``index_if_below``). An insert
trigger doing it cost every row its watermark's subquery
(bench/journal/perf-texts2.md). Nothing here runs VACUUM, which would renumber
the rowids.

The figures' message counts (``app_message_counts``) ride in the build
step on SQLite: it reads every message past ``built_to`` anyway, so it
adds them to their apps' minutes in its transaction (``count_messages``)
and the message's own commit writes no count; the readers add what is
past the pointer (store/stats.py), and a message deleted before the step
reached it is counted by migration 0032's delete trigger.

Merges: FTS5 merges its segments by itself (``automerge``) inside the
insert that fills a level, and a step then held the writer for ~6 ms at
500 msg/s, 20-60 ms in bench/fts_steps.py's longer run, where most take
under 1; a message arriving meanwhile waited for it. Migration 0029
turns that off (``automerge`` 0; ``crisismerge`` 16, FTS5's default,
stays the bound on segments a level), and after each step that indexed
rows the index is
merged ``MERGE_PAGES`` pages at a time, each merge a step of its own, for
as long as a merge finds work (FTS5 merges a level once it holds
``usermerge``, 4, segments): as compact an index, in pieces that are each
as short as a step (~15 % more work in all). Between batches merges and
steps alternate when both are due (the steps came first, and at
saturation no merge ran until the burst ended: bench/journal/perf-burst.md), a
merge there of pages in proportion to the rows indexed
since the last. A merge copies at least one term's list of rows in its
level whatever its pages, so a big one (``SMALL_MERGE``) waits for a
writer idle a while, or for a level near FTS5's crisis merge.

Whether a merge would find work is read from FTS5's structure record
(``merge_due``: row 10 of ``message_texts_fts_data``, its levels and
their segments; ``merge_plan``: the level FTS5 would take, its pages),
in the transaction of the step or merge before: a merge
that finds nothing was half of them, each a transaction and a hand-off
to the writer's thread of its own (three steps in four add a segment to
a level that then holds fewer than ``usermerge``, and the last merge of
a run found nothing). The step's rows reach the record only when FTS5
flushes its pending terms, at the commit or a savepoint: so a savepoint
(released at once) ends the step's statements. A record this does not
read (another layout than SQLite 3.40's) says "merge", as before.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain.elements import EntryKind, MessageState
from tidings.domain.search import searchable_text
from tidings.store.writer.messages import COUNT_SQL, MINUTE_MS
from tidings.store.writer.rows import LaterWork

# Rows that make a step due at once; ``SMALL_BATCH`` rows make it due once
# the oldest has waited ``PAUSE`` (s); a smaller tail waits ``DELAY`` (s).
# Each step is a transaction and a segment of FTS5's (which the merges then
# read and write again at every level): 256 rows a step instead of 64 cut
# the later work at 16 senders from ~21 transactions and ~10.5 us a
# message to ~6.5 and ~7.5 (bench/journal/perf-fts5.md). A step of 256
# holds the writer ~1.5 ms (64: ~0.6), and a message arriving meanwhile
# waits: so at rates where 64 rows take longer than ``PAUSE`` to come
# (under ~1,300 msg/s: 500 msg/s's latency) steps stay of 64, and grow
# with the rate to 256 above ~5,000 msg/s. A search matches the messages
# still waiting in Python: any number after a crash until the first steps
# catch up, and at saturation about a batch (a step between batches takes
# what came since the last: ``STEP_MOST``).
BATCH = 256
SMALL_BATCH = 64
PAUSE = 0.05
DELAY = 5.0
# Rows per step at least (a catch-up at start takes several; requests go
# between), twice ``BATCH``: a due step takes all that wait in one. A step
# between batches (the writer never idle: saturation) takes what came
# since the last step, however many, up to ``STEP_MOST``: one of ``CHUNK``
# a batch of ~900 fell behind ~14k rows a second (bench/journal/perf-burst.md),
# one of what came keeps the rows within about one batch.
CHUNK = 512
STEP_MOST = 8192
# Pages a merge writes at most (see the module); between batches, at
# least one page for every ``ROWS_PER_PAGE`` rows indexed since the last
# merge: 16 pages a batch of ~900 left the levels near the crisis merge
# (bench/journal/perf-fts6.md). 6 then; 18 since the index keeps no
# positions (migration 0034: a page holds ~3x the rows), or a merge there
# took 3x the rows and the most CPU one took in a burst rose from ~40 to
# ~65 ms (18: ~25 ms, the same CPU in all; perf-fts7).
MERGE_PAGES = 16
ROWS_PER_PAGE = 18
# FTS5's ``usermerge`` (its default; migration 0029 leaves it): the
# segments a level holds before a merge takes them. A larger setting would
# only make ``merge_due`` say "merge" for a merge that then finds nothing.
USERMERGE = 4
# A merge copies at least one term's list of rows in the level whatever
# its pages (FTS5 checks them between terms): ~20 ms for a level of
# ~500k rows of one text (perf-burst). A merge whose input segments hold
# over ``SMALL_MERGE`` leaf pages runs only between batches of a writer
# never idle, after ``IDLE_BIG`` seconds with no message written, or once
# a level holds ``NEAR_CRISIS`` segments (FTS5's crisis merge, 16, would
# take the whole level in one step's insert): at 500 msg/s not between
# two messages.
SMALL_MERGE = 64
IDLE_BIG = 0.25
NEAR_CRISIS = 12
# FTS5's structure record (its %_data row 10), and the mark of its second
# layout after the 4-byte cookie (SQLite 3.43+, not read here: "merge").
_STRUCTURE_SQL = "SELECT block FROM message_texts_fts_data WHERE id = 10"
_STRUCTURE_V2 = b"\xff\x00\x00\x01"

WATERMARK_SQL = "SELECT indexed_to FROM message_texts_fts_indexed"
BUILT_SQL = "SELECT built_to FROM message_texts_fts_built"
# A text row with its id (its message's rowid), as the step and an edit write it.
TEXT_INSERT_ID_SQL = ("INSERT INTO message_texts (conversation_id, seq, sdkappid, sender,"
                      " created_at, body, id) VALUES (?, ?, ?, ?, ?, ?, ?)")
_PENDING_SQL = ("SELECT rowid, conversation_id, seq, sdkappid, sender, created_at, elements,"
                " kind, state FROM messages WHERE rowid > ? ORDER BY rowid LIMIT ?")
_POINTERS_SQL = ("SELECT built_to, indexed_to FROM message_texts_fts_built,"
                 " message_texts_fts_indexed")
_ROW_SQL = (f"SELECT rowid, rowid <= ({BUILT_SQL}) FROM messages"
            " WHERE conversation_id = ? AND seq = ?")
_INDEX_BELOW_SQL = ("INSERT INTO message_texts_fts (rowid, body) SELECT id, body"
                    f" FROM message_texts WHERE id >= ? AND id <= ? AND id <= ({WATERMARK_SQL})")


class FtsIndex(LaterWork):
    """The FTS5 step and what waits for it (state touched on the writer's
    thread and, between batches, by the event loop: the writer runs one at
    a time)."""

    def __init__(self, batch: int = BATCH, delay: float = DELAY,
                 small: int = SMALL_BATCH, feed: bool = True) -> None:
        self._batch = batch
        # ``search_index`` none: the steps make the text rows (and the
        # counts) but leave FTS5 and its watermark alone, so nothing is
        # merged either; search reads the texts without the index
        # (store/search.py). Back to trigram, the steps index from the
        # watermark on, ``CHUNK`` rows a step, the tail found by LIKE meanwhile.
        self._feed = feed
        self._delay = delay
        self._small = small
        # Messages and text rows waiting for a step (after a step that took
        # all it could, what ``backlog`` says); None until a step has looked
        # (at start: what a crash left is not known).
        self._waiting: int | None = None
        self._first = 0.0  # when the oldest waiting row was written (monotonic)
        self._arrived = 0  # rows written since the last rows step
        self._last_write = 0.0  # when rows were last written (monotonic)
        # A merge would find work; it is a big one (see ``SMALL_MERGE``); a
        # big one waits behind it (``merge_plan``).
        self._merge = False
        self._big = False
        self._big_next = False
        self._merged_last = False  # the last step was a merge (they alternate)
        self._since_merge = 0  # rows indexed since the last merge
        self.merges = 0  # merges that found work (tests, benches)

    def written(self, n: int) -> None:
        """``n`` messages or text rows went into the batch's transaction."""
        self._last_write = time.monotonic()
        if self._waiting == 0:
            self._first = self._last_write
        if self._waiting is not None:
            self._waiting += n
        self._arrived += n

    def wait(self) -> float | None:
        if self._waiting is None or self._waiting >= min(self._batch, CHUNK):
            return 0.0
        merge = None
        if self._merge:
            merge = 0.0 if not self._big else max(
                0.0, self._last_write + IDLE_BIG - time.monotonic())
        if not self._waiting:
            return merge
        due = self._first + (PAUSE if self._waiting >= self._small else self._delay)
        rows = due - time.monotonic()
        return rows if merge is None else min(rows, merge)

    def overdue(self) -> bool:
        # A writer never idle merges between batches too, or the segments
        # would pile up to FTS5's crisis merge (a long one, in a step).
        return self._rows_overdue() or (self._merge and not self._big)

    def _rows_overdue(self) -> bool:
        return self._waiting is None or self._waiting >= CHUNK

    def run(self, conn: Connection) -> None:
        cursor = conn.connection.cursor()
        try:
            busy = self._rows_overdue()
            if self._merge and (
                    # Merges and steps alternate when both are due: neither
                    # starves (at saturation no merge ran at all: perf-burst).
                    (busy and not self._merged_last)
                    or (not busy and (not self._big or not self._waiting
                                      or time.monotonic() - self._last_write >= IDLE_BIG))):
                pages = MERGE_PAGES
                if busy:
                    pages = max(pages, self._since_merge // ROWS_PER_PAGE)
                elif self._big_next and not self._big:
                    # FTS5 goes on to the next level with the pages a
                    # merge that ends a level leaves: one page, and the
                    # level's last leaf ends the call (``SMALL_MERGE``).
                    pages = 1
                found = merge_step(cursor, pages)
                self.merges += found
                self._merged_last = True
                self._since_merge = 0
                # Not again after one that found nothing, whatever the
                # record says: a merge is never repeated in vain.
                self._plan(cursor if found else None)
                return
            self._merged_last = False
            first = self._waiting is None  # at start: what the index holds is not known
            limit = min(STEP_MOST, max(CHUNK, self._arrived))
            self._arrived = 0
            built = build_step(cursor, limit)
            indexed = index_step(cursor, limit) if self._feed else 0
            self._since_merge += indexed
            if self._feed and (indexed or first):
                self._plan(cursor)
            waiting = backlog(cursor, self._feed) if limit in (built, indexed) else 0
        finally:
            cursor.close()
        self._waiting = waiting
        if waiting:
            self._first = 0.0  # rows left by a full step: due at once

    def _plan(self, cursor: DBAPICursor | None) -> None:
        plan = merge_plan_of(cursor) if cursor is not None else None
        self._merge = plan is not None
        self._big = self._big_next = False
        # A level near the crisis merge: merged whatever its size.
        if plan is not None and plan[1] < NEAR_CRISIS:
            self._big = plan[0] > SMALL_MERGE
            self._big_next = plan[2] > SMALL_MERGE

    @staticmethod
    def built_row(cursor: DBAPICursor, conversation_id: int, seq: int) -> int | None:
        """The message's rowid (its text row's id) if its text row is made
        (or it has no text), None if the step has not reached it."""
        cursor.execute(_ROW_SQL, (conversation_id, seq))
        rowid, built = _one(cursor)
        return int(rowid) if built else None


def index_if_below(cursor: DBAPICursor, first: int, last: int) -> None:
    """Index the text rows of ids ``first``..``last`` that are at or below
    the watermark (the index step takes only those above it)."""
    cursor.execute(_INDEX_BELOW_SQL, (first, last))


def build_step(cursor: DBAPICursor, chunk: int) -> int:
    """Make the text rows of up to ``chunk`` messages past ``built_to`` and
    move it past them; how many messages there were. The rows are as the
    messages are now: an edit's text, none for a recall or a change entry."""
    cursor.execute(_POINTERS_SQL)
    built_to, indexed_to = _one(cursor)
    cursor.execute(_PENDING_SQL, (built_to, chunk))
    rows = cursor.fetchall()
    if not rows:
        return 0
    texts = [(r[1], r[2], r[3], r[4], r[5], body, r[0]) for r in rows
             if r[7] == EntryKind.MESSAGE and r[8] != MessageState.RECALLED
             and (body := searchable_text(r[6]))]
    count_messages(cursor, rows)
    if texts:
        cursor.executemany(TEXT_INSERT_ID_SQL, texts)
        if texts[0][6] <= indexed_to:
            # Rowids given again (see the module): the index step would skip them.
            index_if_below(cursor, texts[0][6], indexed_to)
    cursor.execute("UPDATE message_texts_fts_built SET built_to = ?", (rows[-1][0],))
    return len(rows)


def count_messages(cursor: DBAPICursor, rows: Sequence[Sequence[Any]]) -> None:
    """Add the step's messages (entries of kind 0, recalled or not: sent)
    to their apps' minutes (``app_message_counts``, node '': SQLite's one
    process), in the step's transaction: the counts move with ``built_to``,
    so a message is counted once across a crash (the step is redone whole
    or not at all) and off its own commit (store/writer/messages.py: on
    SQLite the batch writes no count)."""
    # (A list to Counter: ~0.15 us a row, half a loop adding one by one.)
    counts = Counter([(r[3], r[5] - r[5] % MINUTE_MS) for r in rows
                      if r[7] == EntryKind.MESSAGE])
    if counts:
        cursor.executemany(COUNT_SQL, [(app, minute, "", n)
                                       for (app, minute), n in sorted(counts.items())])


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


def merge_step(cursor: DBAPICursor, pages: int) -> bool:
    """Merge the index's segments, ``pages`` pages written at most; whether
    it found work (FTS5 then changes two rows or more, its documentation
    says: one that found none may be the last until rows are added)."""
    cursor.execute("SELECT total_changes()")
    (before,) = _one(cursor)
    cursor.execute("INSERT INTO message_texts_fts (message_texts_fts, rank)"
                   " VALUES ('merge', ?)", (pages,))
    cursor.execute("SELECT total_changes()")
    return bool(_one(cursor)[0] - before >= 2)


def merge_due(cursor: DBAPICursor) -> bool:
    """Whether a ``merge`` now would find work (see the module)."""
    return merge_plan_of(cursor) is not None


def merge_plan_of(cursor: DBAPICursor) -> tuple[int, int, int] | None:
    """``merge_plan`` of the index now: FTS5's pending terms flushed by a
    savepoint, then its structure record read."""
    cursor.execute("SAVEPOINT fts_flush")
    cursor.execute("RELEASE fts_flush")
    cursor.execute(_STRUCTURE_SQL)
    row = cursor.fetchone()
    return (0, 0, 0) if row is None else merge_plan(bytes(row[0]), USERMERGE)


def mergeable(record: bytes, usermerge: int) -> bool:
    """Whether FTS5's ``merge`` finds work in this structure record: a
    level with a merge under way or ``usermerge`` segments. True for what
    it cannot read."""
    return merge_plan(record, usermerge) is not None


def merge_plan(record: bytes, usermerge: int) -> tuple[int, int, int] | None:
    """What FTS5's ``merge`` would take first from this structure record
    (SQLite 3.40's fts5_index.c, ``fts5IndexMerge``: the level with the
    most segments, the lowest of equals, or the first with a merge under
    way if that takes more): the leaf pages of its input segments, the
    most segments a level holds, and the most input pages of another
    level that has a merge under way or ``usermerge`` segments (FTS5 goes
    on to the next level with the pages a call has left); None when it
    finds no work. (0, 0, 0) for a record this does not read (another
    layout, cut short): a merge, not a big one, as before."""
    levels = structure(record)
    if levels is None:
        return 0, 0, 0
    best, most = -1, 0
    for i, (merging, segments) in enumerate(levels):
        if merging:
            if merging > most:
                best, most = i, merging
            break
        if len(segments) > most:
            best, most = i, len(segments)
    if best < 0 or (most < usermerge and not levels[best][0]):
        return None

    def inputs(level: tuple[int, list[int]]) -> int:
        merging, pages = level
        return sum(pages[:merging or len(pages)])

    after = [inputs(level) for i, level in enumerate(levels)
             if i != best and (level[0] or len(level[1]) >= usermerge)]
    return (inputs(levels[best]), max(len(p) for _, p in levels), max(after, default=0))


def structure(record: bytes) -> list[tuple[int, list[int]]] | None:
    """FTS5's structure record read (SQLite 3.40's layout, fts5_index.c: a
    4-byte cookie, then varints: levels, segments, the write counter, and
    for each level the segments of its merge under way, its segments, and
    three per segment: id, first and last leaf): each level's merge under
    way and its segments' leaf pages. None for what it cannot read."""
    if record[4:8] == _STRUCTURE_V2:
        return None
    values = _varints(record, 4)
    levels = []
    try:
        count = next(values)
        next(values)  # segments on all levels
        next(values)  # the write counter
        for _ in range(count):
            merging, segments = next(values), next(values)
            pages = []
            for _ in range(segments):
                next(values)  # the segment's id
                first, last = next(values), next(values)
                pages.append(last - first + 1)
            levels.append((merging, pages))
    except StopIteration:
        return None
    return levels


def backlog(cursor: DBAPICursor, feed: bool = True) -> int:
    """About how many rows wait for a step (messages past ``built_to``,
    text rows above the watermark: by their ids, which deletes leave gaps
    in)."""
    cursor.execute(f"SELECT coalesce((SELECT max(rowid) FROM messages), 0) - ({BUILT_SQL}),"
                   f" coalesce((SELECT max(id) FROM message_texts), 0) - ({WATERMARK_SQL})")
    messages, texts = _one(cursor)
    return max(0, int(messages), int(texts) if feed else 0)


def _varints(data: bytes, at: int) -> Iterator[int]:
    """SQLite's varints (big-endian, 7 bits a byte, the ninth byte whole)."""
    while at < len(data):
        value = 0
        for i in range(9):
            byte = data[at]
            at += 1
            if i == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80 or at >= len(data):
                break
        yield value


def _one(cursor: DBAPICursor) -> Sequence[Any]:
    row = cursor.fetchone()
    assert row is not None  # an aggregate, or the watermark's one row
    return tuple(row)
