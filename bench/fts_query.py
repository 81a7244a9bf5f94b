"""SQLite's FTS5 part of a search alone, by the shape of its MATCH: the
probe (``SearchStore.fts_pays``: the candidates counted up to 5,000) and a
page of 21 (the candidates joined to ``message_texts``, every word a LIKE,
newest first), each a median of 5 runs, the sides interleaved over rounds.

    python bench/fts_query.py --full /tmp/old.db --none /tmp/new.db

``--full``: a file whose index keeps positions (before migration 0034),
asked as the search did then (each word a phrase); ``--none``: one without
(0034), asked with each word's trigrams ANDed, all of them (``all``, what
perf-fts7 first wrote) or the covering ones (``cover``, the search's:
domain/search.py ``covering_trigrams``). Both files as bench/search.py
fills them (``--database-url``), so the same texts. Prints a table: each
side's probe and page in ms, the candidates counted and the page's rows;
``all`` and ``cover`` read the same file, and their pages must be equal.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from collections.abc import Callable
from typing import Any

from tidings.domain.search import (
    LIKE_ESCAPE,
    covering_trigrams,
    like_pattern,
    trigrams,
)

QUERIES = ("meeting", "deadline", "budget deadline", "budget deadline coffee", "zanzibar",
           "budget zanzibar coffee", "吃烤鸭", "xylophone", "eeting noo")
PROBE = ("SELECT count(*) FROM (SELECT rowid FROM message_texts_fts"
         " WHERE message_texts_fts MATCH ? LIMIT 5000)")
APP = 1400000001  # bench/search.py's


def quoted(strings: list[str]) -> str:
    return " ".join('"' + s.replace('"', '""') + '"' for s in dict.fromkeys(strings))


def phrases(terms: tuple[str, ...]) -> str:
    return quoted(list(terms))


def every(terms: tuple[str, ...]) -> str:
    return quoted([g for t in terms for g in trigrams(t)])


def cover(terms: tuple[str, ...]) -> str:
    return quoted([g for t in terms for g in covering_trigrams(t)])


def page_sql(words: int) -> str:
    likes = " AND ".join([f"t.body LIKE ? ESCAPE '{LIKE_ESCAPE}'"] * words)
    return ("SELECT t.conversation_id, t.seq, t.created_at FROM message_texts_fts"
            " JOIN message_texts AS t ON t.id = message_texts_fts.rowid"
            f" WHERE message_texts_fts MATCH ? AND t.sdkappid = {APP} AND {likes}"
            " ORDER BY t.created_at DESC, t.conversation_id DESC, t.seq DESC LIMIT 21")


def timed(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> tuple[float, list[Any]]:
    times, rows = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        rows = conn.execute(sql, params).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), rows


def main(args: argparse.Namespace) -> None:
    files = {name: sqlite3.connect(f"file:{path}?mode=ro", uri=True)
             for name, path in (("full", args.full), ("none", args.none))}
    sides: list[tuple[str, str, Callable[[tuple[str, ...]], str]]] = [
        ("phrases", "full", phrases), ("all", "none", every), ("cover", "none", cover)]
    got: dict[tuple[str, str], list[tuple[float, float, int, list[Any]]]] = {}
    for round_ in range(args.rounds):
        for name, file, match in sides if round_ % 2 == 0 else sides[::-1]:
            for q in QUERIES:
                terms = tuple(sorted(q.split(), key=len, reverse=True))
                expression = match(terms)
                probe, counted = timed(files[file], PROBE, (expression,))
                page, rows = timed(files[file], page_sql(len(terms)),
                                   (expression, *(like_pattern(t) for t in terms)))
                got.setdefault((q, name), []).append((probe, page, counted[0][0], rows))
    print("| query | " + " | ".join(f"{n}: probe ms (counted) / page ms (rows)"
                                     for n, _, _ in sides) + " | all = cover |")
    print("|---" * (len(sides) + 2) + "|")
    for q in QUERIES:
        cells = []
        for name, _, _ in sides:
            runs = got[(q, name)]
            cells.append(f"{statistics.median(r[0] for r in runs):.2f} ({runs[0][2]}) / "
                         f"{statistics.median(r[1] for r in runs):.2f} ({len(runs[0][3])})")
        same = got[(q, "all")][0][3] == got[(q, "cover")][0][3]
        print(f"| {q} | " + " | ".join(cells) + f" | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", required=True, help="a file before migration 0034")
    parser.add_argument("--none", required=True, help="a file at 0034 or later")
    parser.add_argument("--rounds", type=int, default=5)
    main(parser.parse_args())
