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

``build [messages] [rounds]``: the other half of a step, ``build_step``
(the text rows of the messages past ``built_to``), split into its parts
as thread CPU per message, on a migrated file in tmpfs filled with
one-to-one messages of 2,000 conversations, 64 a step: the read of the
rows (with BEGIN and the pointer), their text (``searchable_text``), the
ids, the ``message_texts`` insert, the pointer's update and the commit
(unsynced). ``old`` is the same file with ``message_texts`` as it was
before migration 0030 (``uq_message_texts_message``, ids from
``next_ids``), ``new`` the server's (ids the messages' rowids), and
``trigger`` the new one with an insert trigger indexing a row at or below
the watermark (what ``build_step`` does in Python instead: the trigger's
WHEN, a subquery a row, cost 0.8 us a message; bench/README.md,
perf-texts2).

    python bench/fts_steps.py build 12800 3
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import sqlite3
import string
import sys
import tempfile
import time

from tidings.domain.search import searchable_text
from tidings.store import search_index
from tidings.store.engine import migrate, open_database
from tidings.store.search_index import merge_due, merge_step

ROWS = 64  # a step's rows (search_index.BATCH)
# ``message_texts`` before migration 0030 (the foreign key is not checked
# here: the file has no conversations rows), and the old step's ids.
_OLD_TABLE = ("CREATE TABLE message_texts (id INTEGER NOT NULL, conversation_id INTEGER NOT NULL,"
              " seq BIGINT NOT NULL, sdkappid BIGINT NOT NULL, sender VARCHAR(32) NOT NULL,"
              " created_at BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (id),"
              " CONSTRAINT uq_message_texts_message UNIQUE (conversation_id, seq),"
              " FOREIGN KEY(conversation_id) REFERENCES conversations (id) ON DELETE CASCADE)")
_OLD_NEXT_ID_SQL = ("SELECT max(coalesce((SELECT max(id) FROM message_texts), 0),"
                    " (SELECT indexed_to FROM message_texts_fts_indexed)) + 1")


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


def build_parts(path: str, variant: str) -> dict[str, object]:
    """``build_step``'s statements one by one (as search_index.build_step
    runs them), thread CPU per message."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    old = variant == "old"
    if old:
        conn.execute("PRAGMA legacy_alter_table=ON")  # the triggers stay on the new table
        conn.execute("ALTER TABLE message_texts RENAME TO message_texts_new")
        conn.execute(_OLD_TABLE)
    if variant == "trigger":
        conn.execute("CREATE TRIGGER message_texts_ai AFTER INSERT ON message_texts"
                     " WHEN new.id <= (SELECT indexed_to FROM message_texts_fts_indexed)"
                     " BEGIN INSERT INTO message_texts_fts (rowid, body)"
                     " VALUES (new.id, new.body); END")
    pointers = search_index.BUILT_SQL if old else search_index._POINTERS_SQL
    cursor = conn.cursor()
    parts = dict.fromkeys(("read", "text", "ids", "insert", "pointer", "commit"), 0.0)
    clock = time.thread_time
    done = 0
    while True:
        marks = [clock()]
        conn.execute("BEGIN IMMEDIATE")
        cursor.execute(pointers)
        built_to = cursor.fetchone()[0]
        cursor.execute(search_index._PENDING_SQL, (built_to, ROWS))
        rows = cursor.fetchall()
        if not rows:
            conn.execute("COMMIT")
            break
        marks.append(clock())
        texts = [(r[1], r[2], r[3], r[4], r[5], body, r[0]) for r in rows
                 if r[7] == 0 and r[8] != 2 and (body := searchable_text(r[6]))]
        marks.append(clock())
        if old:  # new: the id is the message's rowid, read with the row
            cursor.execute(_OLD_NEXT_ID_SQL)
            first = cursor.fetchone()[0]
            texts = [(*t[:6], first + i) for i, t in enumerate(texts)]
        marks.append(clock())
        cursor.executemany(search_index.TEXT_INSERT_ID_SQL, texts)
        marks.append(clock())
        cursor.execute("UPDATE message_texts_fts_built SET built_to = ?", (rows[-1][0],))
        marks.append(clock())
        conn.execute("COMMIT")
        marks.append(clock())
        for name, start, end in zip(parts, marks[:-1], marks[1:], strict=True):
            parts[name] += end - start
        done += len(rows)
    conn.close()
    us = {name: round(spent / done * 1e6, 2) for name, spent in parts.items()}
    return {"variant": variant, "messages": done, "us_per_msg": us,
            "total_us_per_msg": round(sum(us.values()), 2)}


def build(messages: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        base = os.path.join(tmp, "base.db")
        asyncio.run(_migrated(base))
        _fill(base, messages)
        for _ in range(rounds):
            for variant in ("old", "new", "trigger"):
                path = os.path.join(tmp, f"{variant}.db")
                shutil.copy(base, path)
                print(json.dumps(build_parts(path, variant)), flush=True)
                os.remove(path)


def main() -> None:
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
