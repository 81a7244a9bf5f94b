"""How long an FTS5 step holds the writer, by FTS5's merge settings.

The search index is written after the commits, 64 rows a step
(store/search_index.py); at 500 msg/s such a step's p99 was ~6 ms and up to
15 ms, and a message arriving meanwhile waits for it (bench/README.md,
"WAL checkpoints off the commit path"). That is FTS5's automatic merge of
its segments, done inside the insert that fills a level. This writes the
same steps (a trigram index of random words, 64 rows a transaction) into a
file in tmpfs with the default (``automerge`` 4) and with ``automerge`` 0
and a small ``merge`` of N pages after each step, in its own transaction
(what the writer could run in its idle moments), and, as the server now
did until perf-fts3, again while a merge finds work, and as it does now,
only the merges FTS5's structure record says find work
(``search_index.merge_due``); it prints each one's step and merge times,
the merge transactions, the index's rows in ``_data`` and its segments at
the end (more of either: more for a query to read).

    python bench/fts_steps.py [steps]

``build [messages] [rounds]``: a step's build and index (the text rows
of the messages past ``built_to``, then FTS5's rows) split into parts as
thread CPU per message, on a migrated file in tmpfs filled with
one-to-one messages of 2,000 conversations, 64 a step: the read of the
rows (with BEGIN and the pointers), their text (``searchable_text``), the
``message_texts`` insert, the index's insert, the pointers' updates and
the commit (unsynced). Two sides step by step on copies of the file, the
order flipped each step: ``two-pass`` the server's (the index's rows read
back from ``message_texts``: ``index_step``), ``one-pass`` the bodies in
hand (tried by perf-fts5: the same within noise, FTS5's tokenizing and
the flush of its pending terms are the part; bench/README.md), ``narrow``
two passes with a text row of its id and body only (the rest is its
message's, by rowid: a schema the server does not have, sized here).
(Before perf-fts5 this mode compared ``message_texts`` before migration
0030 and an insert trigger: see perf-texts2's section.)

    python bench/fts_steps.py build 12800 3

``later [messages] [rounds] --src NAME=PATH ...``: the whole later work as
the writer runs it (``FtsIndex``'s steps and merges, each a transaction,
thread CPU per message with BEGIN and COMMIT), for each tree in turn (a
process each, ``PYTHONPATH`` at its ``src/``, the order flipped every
round), on copies of one migrated file in tmpfs: ``--rows`` one-to-one
messages at a time are committed (not timed), then the later work runs
while it says it is due (64: a step at 16 senders; 256: one at
saturation). Each prints its transactions per 1,000 messages and the
index's answers (matches of a few words, FTS5's integrity check), which
must be the same on every side.

    python bench/fts_steps.py later 12800 3 --src old=/tmp/x-old/src --src new=src
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

from tidings.domain.search import searchable_text
from tidings.store import search_index
from tidings.store.engine import migrate, open_database
from tidings.store.search_index import merge_due, merge_step

ROWS = 64  # a step's rows (search_index.SMALL_BATCH: at 500 msg/s)
def _quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return (f"p50 {ordered[len(ordered) // 2] * 1e3:.2f} p99 "
            f"{ordered[int(len(ordered) * 0.99)] * 1e3:.2f} max {ordered[-1] * 1e3:.2f} ms,"
            f" total {sum(ordered):.2f} s")


def run(label: str, settings: dict[str, int], merge_pages: int, steps: int,
        until_done: bool = False, by_record: bool = False) -> None:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "fts.db"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # as the unsynced step
        # The server's table name: ``merge_due`` reads its ``_data``.
        conn.execute("CREATE VIRTUAL TABLE f USING fts5(body,"
                     " tokenize='trigram case_sensitive 1')")
        conn.execute("ALTER TABLE f RENAME TO message_texts_fts")
        for name, value in settings.items():
            conn.execute("INSERT INTO message_texts_fts (message_texts_fts, rank) VALUES (?, ?)",
                         (name, value))
        cursor = conn.cursor()
        rnd = random.Random(1)
        words = ["".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 9)))
                 for _ in range(5000)]
        step_times: list[float] = []
        merge_times: list[float] = []
        rowid = 0
        for _ in range(steps):
            rows = []
            for _ in range(ROWS):
                rowid += 1
                rows.append((rowid, " ".join(rnd.choices(words, k=rnd.randint(3, 12)))))
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO message_texts_fts (rowid, body) VALUES (?, ?)", rows)
            due = by_record and merge_due(cursor)
            conn.execute("COMMIT")
            step_times.append(time.perf_counter() - start)
            # Each merge its own transaction; ``until_done``: again while
            # it finds work (store/search_index.py), else one a step.
            # ``by_record``: only while the structure record says one finds work.
            while merge_pages and (due or not by_record):
                start = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                found = merge_step(cursor, merge_pages)
                due = found and by_record and merge_due(cursor)
                conn.execute("COMMIT")
                merge_times.append(time.perf_counter() - start)
                if not until_done or not found:
                    break
        (segments,) = conn.execute(
            "SELECT count(DISTINCT segid) FROM message_texts_fts_idx").fetchone()
        (data_rows,) = conn.execute("SELECT count(*) FROM message_texts_fts_data").fetchone()
        conn.close()
    print(f"{label:<40} step: {_quantiles(step_times)} | merge: {_quantiles(merge_times)}"
          f" | merges {len(merge_times)} | _data rows {data_rows}, segments {segments}",
          flush=True)


async def _migrated(path: str) -> None:
    db = open_database(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(db)
    finally:
        await db.dispose()


def _fill(path: str, messages: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")  # no conversations rows: the step reads none
    rnd = random.Random(1)
    words = ["".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 9)))
             for _ in range(5000)]
    conn.execute("BEGIN")
    for i in range(messages):
        conversation = rnd.randint(1, 2000)
        text = " ".join(rnd.choices(words, k=rnd.randint(3, 12)))
        conn.execute("INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
                     " elements, created_at) VALUES (?, ?, 1, ?, ?, ?, ?)",
                     (conversation, i + 1, f"u{conversation}", f"c{i}",
                      json.dumps([{"type": "text", "text": text}]), 1_700_000_000_000 + i))
    conn.execute("COMMIT")
    conn.close()


class _Side:
    """One side's connection to its copy of the file, and its time by part."""

    def __init__(self, path: str, way: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA synchronous=OFF")
        self.way = way
        if way == "narrow":
            # A text row of its id and body only (the rest is its message's,
            # by rowid): the triggers and FTS5 read no other column.
            self.conn.execute("PRAGMA legacy_alter_table=ON")  # the triggers stay put
            self.conn.execute("DROP TABLE message_texts")
            self.conn.execute("CREATE TABLE message_texts (id INTEGER PRIMARY KEY,"
                              " body TEXT NOT NULL)")
        self.cursor = self.conn.cursor()
        self.parts = dict.fromkeys(PARTS, 0.0)
        self.done = 0

    def step(self) -> bool:
        """One step of ``ROWS`` messages, the parts timed; False: none left."""
        cursor, clock = self.cursor, time.thread_time
        marks = [clock()]
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute(search_index._POINTERS_SQL)
        built_to, _ = cursor.fetchone()
        narrow = self.way == "narrow"
        cursor.execute(_NARROW_PENDING_SQL if narrow else search_index._PENDING_SQL,
                       (built_to, ROWS))
        rows = cursor.fetchall()
        if not rows:
            cursor.execute("COMMIT")
            return False
        marks.append(clock())
        if narrow:
            texts = [(r[0], body) for r in rows
                     if r[2] == 0 and r[3] != 2 and (body := searchable_text(r[1]))]
        else:
            texts = [(r[1], r[2], r[3], r[4], r[5], body, r[0]) for r in rows
                     if r[7] == 0 and r[8] != 2 and (body := searchable_text(r[6]))]
        marks.append(clock())
        if narrow:
            cursor.executemany("INSERT INTO message_texts (id, body) VALUES (?, ?)", texts)
        else:
            cursor.executemany(search_index.TEXT_INSERT_ID_SQL, texts)
        marks.append(clock())
        top = rows[-1][0]
        if self.way == "one-pass":  # tried by perf-fts5, not kept: the bodies in hand
            cursor.executemany("INSERT INTO message_texts_fts (rowid, body) VALUES (?, ?)",
                               [(t[6], t[5]) for t in texts])
        else:  # the server's index_step: the rows read back
            cursor.execute(search_index.WATERMARK_SQL)
            (indexed_to,) = cursor.fetchone()
            cursor.execute("SELECT max(id), count(*) FROM (SELECT id FROM message_texts"
                           " WHERE id > ? ORDER BY id LIMIT ?)", (indexed_to, 256))
            top, _ = cursor.fetchone()
            cursor.execute("INSERT INTO message_texts_fts (rowid, body)"
                           " SELECT id, body FROM message_texts WHERE id > ? AND id <= ?",
                           (indexed_to, top))
        marks.append(clock())
        cursor.execute("UPDATE message_texts_fts_built SET built_to = ?", (rows[-1][0],))
        cursor.execute("UPDATE message_texts_fts_indexed SET indexed_to = ?", (top,))
        marks.append(clock())
        cursor.execute("COMMIT")
        marks.append(clock())
        for name, begin, end in zip(PARTS, marks[:-1], marks[1:], strict=True):
            self.parts[name] += end - begin
        self.done += len(rows)
        return True

    def figures(self, side: str) -> dict[str, object]:
        self.conn.close()
        us = {name: round(spent / self.done * 1e6, 2) for name, spent in self.parts.items()}
        return {"side": side, "messages": self.done, "us_per_msg": us,
                "total_us_per_msg": round(sum(us.values()), 2)}


PARTS = ("read", "text", "insert", "index", "pointers", "commit")
WAYS = ("two-pass", "one-pass", "narrow")
_NARROW_PENDING_SQL = ("SELECT rowid, elements, kind, state FROM messages WHERE rowid > ?"
                       " ORDER BY rowid LIMIT ?")


def build(messages: int, rounds: int) -> None:
    """Both sides step by step on copies of one file, the order flipped
    every step (a loaded machine's minutes fall on both)."""
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        base = os.path.join(tmp, "base.db")
        asyncio.run(_migrated(base))
        _fill(base, messages)
        for _ in range(rounds):
            sides = {}
            for side in WAYS:
                shutil.copy(base, os.path.join(tmp, f"{side}.db"))
                sides[side] = _Side(os.path.join(tmp, f"{side}.db"), side)
            flip = False
            while True:
                order = WAYS[::-1] if flip else WAYS
                if not all([sides[side].step() for side in order]):
                    break
                flip = not flip
            for side, state in sides.items():
                print(json.dumps(state.figures(side)), flush=True)
                for suffix in ("", "-wal", "-shm"):
                    path = os.path.join(tmp, f"{side}.db{suffix}")
                    if os.path.exists(path):
                        os.remove(path)


def later_child(path: str, messages: int, rows: int) -> dict[str, object]:
    """In a process whose ``tidings`` is the tree's: the later work after
    each ``rows`` messages committed (see the module)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA foreign_keys=OFF")  # no conversations rows
    index = search_index.FtsIndex(batch=rows)
    way = SimpleNamespace(connection=conn)  # what ``run`` reads of its Connection
    rnd = random.Random(1)
    words = ["".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 9)))
             for _ in range(5000)]
    spent = merged = 0.0
    transactions = 0
    for first in range(0, messages, rows):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
            " elements, created_at) VALUES (?, ?, 1, 'u', ?, ?, 1)",
            [(rnd.randint(1, 2000), i + 1, f"c{i}", json.dumps(
                [{"type": "text", "text": " ".join(rnd.choices(words, k=rnd.randint(3, 12)))}]))
             for i in range(first, min(first + rows, messages))])
        conn.execute("COMMIT")
        index.written(rows)
        while index.wait() == 0:
            merges = index.merges
            start = time.thread_time()
            conn.execute("BEGIN IMMEDIATE")
            index.run(way)  # type: ignore[arg-type]
            conn.execute("COMMIT")
            took = time.thread_time() - start
            spent += took
            # A merge that found work: counted apart (the same on every side).
            merged += took if index.merges > merges else 0.0
            transactions += 1
    answers = {word: conn.execute("SELECT count(*) FROM message_texts_fts WHERE"
                                  " message_texts_fts MATCH ?", (word,)).fetchone()[0]
               for word in words[:5]}
    conn.execute("INSERT INTO message_texts_fts (message_texts_fts, rank)"
                 " VALUES ('integrity-check', 1)")
    (texts,) = conn.execute("SELECT count(*) FROM message_texts").fetchone()
    conn.close()
    return {"us_per_msg": round(spent / messages * 1e6, 2),
            "merges_us_per_msg": round(merged / messages * 1e6, 2),
            "later_per_1000": round(1000 * transactions / messages, 1),
            "merges": index.merges, "texts": texts, "answers": answers}


def later(messages: int, rounds: int, rows: int, sources: list[str]) -> None:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        base = os.path.join(tmp, "base.db")
        asyncio.run(_migrated(base))
        for round_ in range(rounds):
            for source in sources if round_ % 2 == 0 else sources[::-1]:
                name, _, src = source.partition("=")
                path = os.path.join(tmp, f"{name}.db")
                shutil.copy(base, path)
                env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
                out = subprocess.run(
                    [sys.executable, __file__, "_later", path, str(messages), str(rows)],
                    env=env, check=True, capture_output=True, text=True).stdout
                print(json.dumps({"tree": name, "rows": rows, **json.loads(out)}), flush=True)
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(path + suffix):
                        os.remove(path + suffix)


def main() -> None:
    if sys.argv[1:2] == ["_later"]:
        print(json.dumps(later_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    if sys.argv[1:2] == ["later"]:
        parser = argparse.ArgumentParser()
        parser.add_argument("messages", type=int, nargs="?", default=12_800)
        parser.add_argument("rounds", type=int, nargs="?", default=3)
        parser.add_argument("--rows", type=int, default=64)
        parser.add_argument("--src", action="append", required=True, help="NAME=PATH")
        args = parser.parse_args(sys.argv[2:])
        later(args.messages, args.rounds, args.rows, args.src)
        return
    if sys.argv[1:2] == ["build"]:
        build(int(sys.argv[2]) if len(sys.argv) > 2 else 64 * 200,
              int(sys.argv[3]) if len(sys.argv) > 3 else 2)
        return
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    run("default (automerge 4)", {}, 0, steps)
    for pages in (8, 16, 32):
        run(f"automerge 0, crisismerge 64, merge {pages}", {"automerge": 0, "crisismerge": 64},
            pages, steps)
    # What the server did (migration 0029), and does (store/search_index.py).
    server = {"automerge": 0, "crisismerge": 16}
    run("automerge 0, crisismerge 16, merge 16 until done", server, 16, steps, until_done=True)
    run("same, only merges the record says find work", server, 16, steps, until_done=True,
        by_record=True)


if __name__ == "__main__":
    main()
