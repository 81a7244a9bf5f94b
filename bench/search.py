"""Message search benchmark: fills a database through the real message writer
(so the search index is written the way the server writes it), then times
searches through the real search store and prints each query's plan, to show
that a search is an index lookup and not a scan of the messages.

    python bench/search.py                                   # SQLite, 200k messages
    python bench/search.py --messages 50000
    python bench/search.py --database-url postgresql+asyncpg://user@127.0.0.1:5432/db

The data: ``--users`` users of one app, each in one-to-one conversations
with ``--peers`` others, and ``--messages`` messages spread over them: short
English sentences from a small vocabulary, a third of them in Chinese, and a
rare word in about one message in 10,000. A second app holds a copy of the
first one's text, so every search must keep apart by app too.

Queries, as user ``u0`` (about ``messages * peers * 2 / (users * peers)``
messages visible) and as the app's admin over the whole app:
a rare word, a common word, two words, three words (common; one rare), a
Chinese word of 3 characters and of 2 (shorter than a trigram: the scan
path), each with its median and p95 time.
``--tail N`` (SQLite) writes N more messages last that the search index's
step has not reached (what a crash or a busy writer leaves): their search
is the tail's, matched by LIKE or in Python (store/search.py).
Prints one JSON document; the plans go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.ids import c2c_key
from tidings.domain.records import NewMessage
from tidings.domain.search import parse_query
from tidings.store import search_index
from tidings.store.engine import Database, migrate, open_database
from tidings.store.search import SearchScope, SearchStore, TextRows
from tidings.store.search_gin import settle
from tidings.store.search_index import FtsIndex, index_step
from tidings.store.writer import MessageWriter

WORDS = ("the", "meeting", "is", "at", "noon", "tomorrow", "please", "bring", "report", "budget",
         "lunch", "coffee", "project", "deadline", "review", "call", "later", "thanks", "great",
         "idea", "office", "train", "ticket", "weekend", "family", "photo", "music", "game",
         "order", "delivery", "price", "discount")
CHINESE = ["我们明天去北京开会", "项目报告已经发给你了", "晚上一起吃烤鸭吧", "上海的天气很好",
           "请确认订单和价格", "周末去公园散步", "会议改到下午三点", "谢谢你的帮助"]
RARE = "zanzibar"
APP, OTHER_APP = 1400000001, 1400000002


def sentence(rng: random.Random) -> str:
    if rng.random() < 0.33:
        return rng.choice(CHINESE) + rng.choice(("", "!", " ok", "。"))
    words = rng.choices(WORDS, k=rng.randint(4, 12))
    if rng.random() < 0.0001:
        words.insert(rng.randrange(len(words)), RARE)
    return " ".join(words)


async def fill(db: Database, args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed)
    users = [f"u{i}" for i in range(args.users)]
    pairs = sorted({tuple(sorted((u, rng.choice(users)))) for u in users
                    for _ in range(args.peers)} - {(u, u) for u in users})
    # u0 is in --peers conversations whatever the draw.
    pairs += [("u0", f"u{i}") for i in range(1, args.peers + 1) if ("u0", f"u{i}") not in pairs]
    started = time.perf_counter()
    await send_all(db, TextRows(db), pairs, rng, range(args.messages))
    if db.dialect == "sqlite":
        # The writer indexes when idle, and a fill never is: the rest now (a
        # server catches up as soon as it is), or searches would read most
        # texts by LIKE as the index's tail.
        async with db.writer.begin() as conn:
            await conn.run_sync(index_all)
    elapsed = time.perf_counter() - started
    stored = args.messages + (args.messages + 3) // 4
    if args.tail and db.dialect == "sqlite":
        # Messages the step has not reached: their search rows not made
        # (or, before perf-pages, made and not in the FTS5 index).
        await send_all(db, TextRows(db, Stalled()), pairs, rng,
                       range(args.messages, args.messages + args.tail), stop=False)
    return {"fill_s": round(elapsed, 1), "fill_msgs_per_s": round(stored / elapsed),
            "conversations_per_app": len(pairs), "messages_stored": stored,
            "tail_not_indexed": args.tail}


class Stalled(FtsIndex):
    """A search index whose step never comes."""

    def wait(self) -> float | None:
        return None

    def overdue(self) -> bool:
        return False


async def send_all(db: Database, rows: TextRows, pairs: list[tuple[str, ...]],
                   rng: random.Random, numbers: range, stop: bool = True) -> None:
    """Messages ``numbers`` through a writer with ``rows``; ``stop`` False:
    the writer is left as a crash would (no step at its stop)."""
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.register(rows)  # message_texts, as the server writes it
    writer.start()
    pending: list[asyncio.Future[Any]] = []
    for n in numbers:
        a, b = pairs[n % len(pairs)] if n < len(pairs) else rng.choice(pairs)
        sender = a if rng.random() < 0.5 else b
        body = orjson.dumps([{"type": "text", "text": sentence(rng)}]).decode()
        for app in (APP, OTHER_APP) if n % 4 == 0 else (APP,):
            pending.append(writer.submit(NewMessage(c2c_key(app, a, b), sender, f"m{n}-{app}",
                                                    body, "")))
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    if stop:
        await writer.stop()


def index_all(conn: Connection) -> None:
    cursor = conn.connection.cursor()
    # Before perf-pages (an old tree for comparison) there is no build step.
    build = getattr(search_index, "build_step", None)
    while (build(cursor, 10_000) if build else 0) + index_step(cursor, 10_000):
        pass
    cursor.close()


async def explain(db: Database, store: SearchStore, scope: SearchScope) -> str:
    """The plan of the statements the store would run (SQLite: which way it
    chose, and with FTS5 the tail's; with bound parameters, as the server
    runs them: SQLite plans literal values otherwise)."""
    async with db.reader.connect() as conn:
        fts = await store.fts_pays(conn, scope)
        stmt = store.statement(scope, 21, fts=fts)
        if db.dialect != "sqlite":
            compiled = stmt.compile(dialect=db.reader.dialect,
                                    compile_kwargs={"literal_binds": True})
            rows = (await conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF) "
                                            + str(compiled).replace("%%", "%")))).all()
            return "\n".join(f"  {r[0]}" for r in rows)
        plan = await sqlite_plan(conn, stmt)
        if store.uses_fts(scope, fts):
            plan += ["(the tail above the watermark)"] + await sqlite_plan(
                conn, store.tail(scope, 21))
        if hasattr(store, "pending"):  # since perf-pages
            plan += ["(the messages past the pointer, matched in Python)"] + await sqlite_plan(
                conn, store.pending(scope))
    way = ("(search_index none: no index to ask)" if not store.indexed
           else "(no word of 3 characters: no index to ask)" if not scope.query.indexed
           else "(FTS5 first)" if fts else "(FTS5 probe: a common word; the other way)")
    return "\n".join(f"  {step}" for step in [way, *plan])


async def sqlite_plan(conn: AsyncConnection, stmt: Select[Any]) -> list[str]:
    compiled = stmt.compile(dialect=conn.dialect)
    params = tuple(compiled.params[k] for k in compiled.positiontup or ())
    rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params)
    return [str(r["detail"]) for r in rows.mappings()]


async def timed(store: SearchStore, scope: SearchScope, runs: int) -> dict[str, Any]:
    times = []
    found = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        found = len(await store.search(scope, 21))
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"found": found, "median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 2)}


async def main(args: argparse.Namespace) -> None:
    url = args.database_url
    if not url:
        folder = Path(tempfile.mkdtemp(prefix="tidings-search-bench-"))
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    db = open_database(url)
    await migrate(db)
    async with db.reader.connect() as conn:
        existing = (await conn.execute(text("SELECT count(*) FROM message_texts"))).scalar()
    result: dict[str, Any] = {"database": db.dialect, "messages": args.messages}
    if existing:
        result["fill"] = "reused the database as it was"
    else:
        result.update(await fill(db, args))
    async with db.writer.begin() as conn:
        await conn.execute(text("ANALYZE"))  # the planner's statistics, as after a day's use
    queries = {"rare word": RARE, "common word": "meeting", "two words": "budget deadline",
               "three words": "budget deadline coffee",
               "three words, one rare": f"budget {RARE} coffee",
               "chinese 3 chars": "吃烤鸭", "chinese 2 chars": "北京", "no match": "xylophone"}
    settings = ["trigram", "none"] if args.search_index == "both" else [args.search_index]
    for setting in settings:
        # PostgreSQL: the index as a node with the setting leaves it
        # (store/search_gin.py); made again after, for a database reused.
        await settle(db, setting == "trigram")
        if db.dialect != "sqlite":
            async with db.writer.begin() as conn:
                await conn.execute(text("ANALYZE message_texts"))
        store = SearchStore(db, index=setting == "trigram")
        results: dict[str, Any] = {}
        for who, viewer in (("user u0", "u0"), ("admin, whole app", None)):
            for name, q in queries.items():
                scope = SearchScope(APP, viewer, parse_query(q))
                results[f"{who}: {name} ({q})"] = await timed(store, scope, args.runs)
                print(f"\n[{setting}] {who}: {name} ({q})\n{await explain(db, store, scope)}",
                      file=sys.stderr)
        result[f"queries ({setting})" if len(settings) > 1 else "queries"] = results
    await settle(db, True)
    await db.dispose()
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--peers", type=int, default=10)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--search-index", choices=["trigram", "none", "both"], default="trigram",
                        help="the search_index setting searched with; both: one after the other")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--tail", type=int, default=0,
                        help="SQLite: messages written last that the index's step has not reached")
    asyncio.run(main(parser.parse_args()))
