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
"""

from __future__ import annotations

import os
import random
import sqlite3
import string
import sys
import tempfile
import time

from tidings.store.search_index import merge_due, merge_step

ROWS = 64  # a step's rows (search_index.BATCH)


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


def main() -> None:
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
