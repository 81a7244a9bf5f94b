"""What the search index costs a message by its kind, on the bench's varied texts.

The texts are bench/chat_load.py's ``--text varied`` (16,384 texts of 3-14
words from its word list, seeded, in turn), lowered as the server stores
them (``searchable_text``). Each side is indexed from scratch in each round,
the order flipped every round.

SQLite (a file in /dev/shm, WAL, unsynced): ``message_texts``-like rows
(id, body) are written first, untimed; then the timed part, as the step
does at saturation: ``INSERT INTO fts (rowid, body) SELECT ...`` 256 rows a
transaction, FTS5's own merges on (``automerge`` 4: the server's own
merge steps cost ~15 % more, docs/search.md). Thread CPU a message, the
index's bytes (``_data`` blocks) a message, then a few queries' counts:
what each kind finds.

- ``trigram``: the server's (``trigram case_sensitive 1``, the bodies are
  lowered);
- ``trigram_column``, ``trigram_none``: the same with less per row
  (``detail=column``: no offsets; ``none``: no columns either): a
  word of more than 3 characters is a phrase of trigrams, which FTS5 then
  checks by each candidate's text, read back and tokenized again;
- ``unicode61``: words (``remove_diacritics 0``: accents not ignored, as
  now).

PostgreSQL (``--pg``: a cluster of bench/xmpp_servers.py, fsync on, on
CPU 0): the text rows as the batch writes them (key ``(conversation_id,
seq)``, 512 rows a transaction, asyncpg's ``executemany``), the cluster's
CPU a message (every process: backend, WAL writer...), then a ``VACUUM``
(GIN's pending list into the index; its CPU apart), the index's size:

- ``none``: no index on the body;
- ``gin_trgm``: the server's (``pg_trgm``'s ``gin_trgm_ops``; GIN's
  ``fastupdate`` on, its default: a pending list, moved into the index by
  the insert that fills it, 4 MB, or by a vacuum);
- ``gin_trgm_nofu``: the same with ``fastupdate = off``;
- ``gin_trgm_pl32m``: ``gin_pending_list_limit`` 32 MB (default 4);
  ``_wm64m``: and the session's ``work_mem`` 64 MB (the cleanup gathers
  the list's entries in it);
- ``gist_trgm``: ``gist_trgm_ops``;
- ``gin_words``: ``to_tsvector('simple', body)`` in GIN (words).

    python bench/text_tokenizers.py 100000 3 --pg
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import chat_load

STEP = 256
PG_BATCH = 512

FTS = {
    "trigram": "tokenize='trigram case_sensitive 1'",
    "trigram_column": "tokenize='trigram case_sensitive 1', detail=column",
    "trigram_none": "tokenize='trigram case_sensitive 1', detail=none",
    "unicode61": "tokenize='unicode61 remove_diacritics 0'",
}
# (what a user types, the trigram query, the unicode61 query): the same
# words; a piece of a word (unicode61: only as a prefix); CJK.
QUERIES = (
    ("coffee lunch", "coffee lunch"),
    ("offee (inside a word)", "offee"),
    ("coff (start of a word)", "coff"),
)


def query(kind: str, words: str) -> str:
    """MATCH text for ``words`` (all of them, each a substring; unicode61:
    each a word, or ``w*`` a word's start). Without offsets (``detail``
    not full) FTS5 has no phrases: a word is all of its trigrams, and
    ``check`` adds the LIKE that makes it a substring."""
    if kind == "unicode61":
        return " AND ".join(words.split())
    if kind == "trigram":
        return " AND ".join(f'"{w}"' for w in words.split())
    return " AND ".join(f'"{w[i:i + 3]}"' for w in words.split() for i in range(len(w) - 2))


def check(kind: str, words: str) -> str:
    if kind in ("trigram", "unicode61"):
        return ""
    return "".join(f" AND body LIKE '%{w}%'" for w in words.split())


def bodies(n: int) -> list[str]:
    chat_load.set_text("varied")
    texts = [t.decode().lower() for t in chat_load.texts]
    return [texts[i % len(texts)] for i in range(n)]


def sqlite_side(kind: str, rows: list[str], out: dict[str, Any]) -> None:
    path = Path(f"/dev/shm/perf-text-tok-{os.getpid()}.db")
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("CREATE TABLE texts (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        db.execute(f"CREATE VIRTUAL TABLE fts USING fts5(body, content='texts',"
                   f" content_rowid='id', {FTS[kind]})")
        db.execute("BEGIN")
        db.executemany("INSERT INTO texts (id, body) VALUES (?, ?)",
                       ((i + 1, b) for i, b in enumerate(rows)))
        db.execute("COMMIT")
        cpu = time.thread_time()
        for first in range(0, len(rows), STEP):
            db.execute("BEGIN")
            db.execute("INSERT INTO fts (rowid, body) SELECT id, body FROM texts"
                       " WHERE id > ? AND id <= ?", (first, first + STEP))
            db.execute("COMMIT")
        cpu = time.thread_time() - cpu
        (size,) = db.execute("SELECT sum(length(block)) FROM fts_data").fetchone()
        found = {}
        for label, words in QUERIES:
            if label.startswith("coff ") and kind == "unicode61":
                words = "coff*"
            t0 = time.perf_counter()
            (count,) = db.execute(f"SELECT count(*) FROM fts WHERE fts MATCH ?"
                                  f"{check(kind, words)}", (query(kind, words),)).fetchone()
            found[label] = (count, round(1e3 * (time.perf_counter() - t0), 2))
        out.setdefault(kind, {"us": [], "bytes": [], "found": found})
        out[kind]["us"].append(1e6 * cpu / len(rows))
        out[kind]["bytes"].append(size / len(rows))
    finally:
        db.close()
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)


def cjk_check() -> dict[str, list[int]]:
    """'去北京' and '北京' in '我们去北京', 'duck' and 'uck' in 'peking duck':
    found by each kind's MATCH? (Trigrams need 3 characters: a search's
    shorter words are matched by the server outside the index.)"""
    found = {}
    for kind, tokenize in FTS.items():
        db = sqlite3.connect(":memory:")
        db.execute(f"CREATE VIRTUAL TABLE f USING fts5(body, {tokenize})")
        db.executemany("INSERT INTO f (body) VALUES (?)", [("我们去北京",), ("peking duck",)])
        found[kind] = [db.execute(f"SELECT count(*) FROM f WHERE f MATCH ?{check(kind, w)}",
                                  (query(kind, w),)).fetchone()[0] if query(kind, w) else 0
                       for w in ("去北京", "北京", "duck", "uck")]
        db.close()
    return found


PG_INDEX = {
    "none": "",
    "gin_trgm": "CREATE INDEX ix_body ON texts USING gin (body gin_trgm_ops)",
    "gin_trgm_nofu": "CREATE INDEX ix_body ON texts USING gin (body gin_trgm_ops)"
                     " WITH (fastupdate = off)",
    "gin_trgm_pl32m": "CREATE INDEX ix_body ON texts USING gin (body gin_trgm_ops)"
                      " WITH (gin_pending_list_limit = 32768)",
    "gin_trgm_pl32m_wm64m": "CREATE INDEX ix_body ON texts USING gin (body gin_trgm_ops)"
                            " WITH (gin_pending_list_limit = 32768)",
    "gist_trgm": "CREATE INDEX ix_body ON texts USING gist (body gist_trgm_ops)",
    "gin_words": "CREATE INDEX ix_body ON texts USING gin (to_tsvector('simple', body))",
}


async def pg_side(pg: Any, kind: str, rows: list[str], out: dict[str, Any]) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(pg.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await conn.execute("DROP TABLE IF EXISTS texts")
        await conn.execute("CREATE TABLE texts (conversation_id integer, seq bigint,"
                           " sdkappid bigint, sender varchar(32), created_at bigint,"
                           " body text NOT NULL, PRIMARY KEY (conversation_id, seq))")
        if PG_INDEX[kind]:
            await conn.execute(PG_INDEX[kind])
        # The pending list's cleanup sorts in work_mem (4 MB by default).
        await conn.execute("SET work_mem = '64MB'" if kind.endswith("_wm64m")
                           else "RESET work_mem")
        await conn.execute("CHECKPOINT")
        sql = ("INSERT INTO texts (conversation_id, seq, sdkappid, sender, created_at, body)"
               " VALUES ($1, $2, $3, $4, $5, $6)")
        now = int(time.time() * 1000)
        cpu = pg.cpu_seconds()
        for first in range(0, len(rows), PG_BATCH):
            batch = [(i % 2000, i // 2000 + 1, 1400000000, f"u{i % 4000}", now + i, rows[i])
                     for i in range(first, min(first + PG_BATCH, len(rows)))]
            async with conn.transaction():
                await conn.executemany(sql, batch)
        cpu = pg.cpu_seconds() - cpu
        vacuum = pg.cpu_seconds()
        await conn.execute("VACUUM texts")
        vacuum = pg.cpu_seconds() - vacuum
        size = 0
        if PG_INDEX[kind]:
            size = await conn.fetchval("SELECT pg_relation_size('ix_body')")
        out.setdefault(kind, {"us": [], "vacuum_us": [], "bytes": []})
        out[kind]["us"].append(1e6 * cpu / len(rows))
        out[kind]["vacuum_us"].append(1e6 * vacuum / len(rows))
        out[kind]["bytes"].append(size / len(rows))
    finally:
        await conn.close()


def busy() -> float:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in fields]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("messages", type=int, nargs="?", default=100_000)
    parser.add_argument("rounds", type=int, nargs="?", default=3)
    parser.add_argument("--pg", action="store_true", help="also PostgreSQL's index kinds")
    parser.add_argument("--only", default="", help="only these kinds (comma-separated)")
    args = parser.parse_args()
    rows = bodies(args.messages)
    print(f"{len(rows)} messages, {statistics.mean(len(r) for r in rows):.1f} characters"
          f" a text on average; CJK check (去北京, 北京, duck, uck found): {cjk_check()}")
    wall, cpu0, own0 = time.perf_counter(), busy(), time.process_time()
    sq: dict[str, Any] = {}
    for r in range(args.rounds):
        for kind in (list(FTS) if r % 2 == 0 else list(FTS)[::-1]):
            if args.only and kind not in args.only.split(","):
                continue
            sqlite_side(kind, rows, sq)
    for kind, v in sq.items():
        print(f"sqlite {kind:10} {statistics.median(v['us']):6.2f} us a message"
              f" (rounds: {', '.join(f'{x:.2f}' for x in v['us'])}),"
              f" index {statistics.median(v['bytes']):6.1f} bytes a message; found"
              f" (count, ms): {v['found']}")
    if args.pg:
        sys.path.insert(0, str(Path(__file__).parent))
        import xmpp_servers

        pgo: dict[str, Any] = {}

        async def pg_all(pg: Any) -> None:
            for r in range(args.rounds):
                for kind in (list(PG_INDEX) if r % 2 == 0 else list(PG_INDEX)[::-1]):
                    if args.only and kind not in args.only.split(","):
                        continue
                    await pg_side(pg, kind, rows, pgo)

        with xmpp_servers.postgres() as pg:
            asyncio.run(pg_all(pg))
        for kind, v in pgo.items():
            print(f"postgresql {kind:10} {statistics.median(v['us']):6.2f} us a message"
                  f" (rounds: {', '.join(f'{x:.2f}' for x in v['us'])}), VACUUM after"
                  f" {statistics.median(v['vacuum_us']):5.2f} us a message, index"
                  f" {statistics.median(v['bytes']):6.1f} bytes a message")
    elapsed = time.perf_counter() - wall
    other = (busy() - cpu0) - (time.process_time() - own0)
    print(f"other_cpu_pct {100 * other / elapsed:.0f} (of {100 * (os.cpu_count() or 1)}; the"
          f" PostgreSQL cluster's own CPU is in it)")


if __name__ == "__main__":
    main()
