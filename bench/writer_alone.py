"""The message writer alone, in-process: CPU per message when each sender
awaits its ack before the next send (issue 19: a message that commits alone,
and 16 senders whose messages share a few commits).

The writer is built as ``runtime.py`` builds it (the same features' rows:
search text, media refs, mentions, the callbacks outbox, push jobs) on a
fresh SQLite file (WAL, ``synchronous=FULL``) or ``--database-url``.
``--senders`` coroutines each send one-to-one text messages to their own peer
and await each ack; the figures are this process's CPU per acked message,
split into the event loop's thread and the others (the batch thread's
transaction and commit), user and system, and the batch size.

    python bench/writer_alone.py --senders 1 --messages 2000
    python bench/writer_alone.py --senders 16 --messages 8000
    python bench/writer_alone.py --senders 1 --messages 2000 --fresh
    python bench/writer_alone.py --senders 1 --messages 4000 --unsynced
    python bench/writer_alone.py --senders 1 --messages 3000 --unsynced --search off
    python bench/writer_alone.py --senders 1 --messages 10000 --checkpoint-pages 1000
    python bench/writer_alone.py --senders 16 --messages 12000 --unsynced --split

``--fresh``: each message is the first between its sender and a new peer
(the commit makes the conversation and its two members). ``--unsynced``:
SQLite's batch connection commits with ``synchronous=OFF``, so the figures
are the statements' and the commit's CPU without the ``fdatasync``'s
(whose kernel time and wake-ups move with the other processes' I/O on a
shared machine, more than a few statements' cost). ``--search off``: no
``TextRows``, so on SQLite no search step follows the commits (its share of
a lone message: the same run with and without it). ``later_per_1000``:
the search index's transactions after the commits (steps and merges);
``--split``: their work by the search step's functions.

For old against new, run it with ``PYTHONPATH`` at an extracted ``src/``.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]
import uvloop
from commit_pages import attach_push
from sqlalchemy import event

from tidings.domain.ids import c2c_key
from tidings.domain.records import NewMessage
from tidings.store.callbacks import OutboxRows
from tidings.store.engine import migrate, open_database
from tidings.store.media import MediaRefRows
from tidings.store.mentions import MentionRows
from tidings.store.push import PushJobRows
from tidings.store.search import TextRows
from tidings.store.writer import MessageWriter
from tidings.store.writer.rows import LaterWork

APP = 1400000001


def thread_times() -> dict[str, tuple[float, float]]:
    """(user, system) CPU seconds of the loop's thread and of the others."""
    me = psutil.Process()
    loop_tid = threading.get_native_id()
    out = {"loop": (0.0, 0.0), "threads": (0.0, 0.0)}
    for t in me.threads():
        key = "loop" if t.id == loop_tid else "threads"
        user, system = out[key]
        out[key] = (user + t.user_time, system + t.system_time)
    return out


def split_later() -> dict[str, float]:
    """The search step's functions timed (thread CPU, s), by name, in the
    dict returned: ``FtsIndex.run`` calls them by their module's names (an
    old tree's missing ones are left out)."""
    from tidings.store import search_index

    spent: dict[str, float] = {}
    for name in ("build_step", "index_step", "merge_step", "merge_due"):
        inner = getattr(search_index, name, None)
        if inner is None:
            continue
        spent[name] = 0.0

        def timed(*args: Any, _inner: Any = inner, _name: str = name) -> Any:
            start = time.thread_time()
            try:
                return _inner(*args)
            finally:
                spent[_name] += time.thread_time() - start

        setattr(search_index, name, timed)
    return spent


def count_later(work: LaterWork | None) -> dict[str, float]:
    """Counts ``work``'s runs and times them (thread CPU), in the dict returned."""
    counted = {"n": 0.0, "cpu": 0.0}
    if work is None:
        return counted
    inner = work.run

    def timed(conn: Any) -> None:
        start = time.thread_time()
        try:
            inner(conn)
        finally:
            counted["n"] += 1
            counted["cpu"] += time.thread_time() - start

    setattr(work, "run", timed)  # noqa: B010 (an instance's method replaced)
    return counted


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    db = open_database(url, checkpoint_pages=args.checkpoint_pages)
    await migrate(db)
    if args.unsynced:
        assert db.batch is not None, "--unsynced is SQLite's"
        event.listen(db.batch.engine, "connect",
                     lambda dbapi_conn, _: dbapi_conn.execute("PRAGMA synchronous=OFF"))
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    search = [TextRows(db)] if args.search == "on" else []
    writer.register(*search, MediaRefRows(db), MentionRows(db), OutboxRows(db))
    attach_push(writer, PushJobRows(db, lambda app: True))
    split = split_later() if args.split else {}
    later = count_later(search[0].later if search else None)
    writer.start()
    body = orjson.dumps([{"type": "text", "text": "see you at the station at noon"}]).decode()
    per_sender = args.messages // args.senders

    async def sender(i: int, count: int, tag: str) -> None:
        key = c2c_key(APP, f"s{i}", f"p{i}")
        for n in range(count):
            if args.fresh:
                key = c2c_key(APP, f"s{i}", f"{tag}-p{i}-{n}")
            await writer.submit(NewMessage(key, f"s{i}", f"{tag}-{i}-{n}", body, ""))

    # Warm: conversations made, statements and caches ready.
    await asyncio.gather(*(sender(i, 20, "warm") for i in range(args.senders)))
    batches0 = writer.batches
    later.update(n=0, cpu=0.0)
    split.update(dict.fromkeys(split, 0.0))
    psutil.cpu_percent(interval=None)
    before, wall0 = thread_times(), time.perf_counter()
    await asyncio.gather(*(sender(i, per_sender, "m") for i in range(args.senders)))
    wall = time.perf_counter() - wall0
    after = thread_times()
    later, split = dict(later), dict(split)  # not the steps at stop
    machine_pct = psutil.cpu_percent(interval=None) * (psutil.cpu_count() or 1)
    batches = writer.batches - batches0
    await writer.stop()
    await db.dispose()
    n = per_sender * args.senders
    by_thread = {f"{key}_{kind}": round(1e6 * (after[key][i] - before[key][i]) / n, 1)
                 for key in ("loop", "threads") for i, kind in enumerate(("user", "system"))}
    return {"senders": args.senders, "messages": n, "acked_per_s": round(n / wall),
            "us_per_msg": round(sum(by_thread.values()), 1), "by_thread": by_thread,
            "batch_mean": round(n / max(batches, 1), 2),
            # The search index's transactions after the commits (steps and
            # merges) per 1,000 messages, and their work's thread CPU (not
            # their commits') per message.
            "later_per_1000": round(1000 * later["n"] / n, 1),
            "later_work_us_per_msg": round(1e6 * later["cpu"] / n, 1),
            **({"later_split_us_per_msg": {name: round(1e6 * spent / n, 2)
                                           for name, spent in split.items()}} if split else {}),
            # The machine's CPU (of 100 per core) besides this process's.
            "other_cpu_pct": round(machine_pct - sum(by_thread.values()) * n / wall / 1e4, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=1)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--fresh", action="store_true",
                        help="each message to a new peer (its conversation made in its commit)")
    parser.add_argument("--unsynced", action="store_true",
                        help="SQLite's commits without fdatasync (the CPU of the statements)")
    parser.add_argument("--search", choices=("on", "off"), default="on",
                        help="off: no search rows (on SQLite: no search step after the commits)")
    parser.add_argument("--split", action="store_true",
                        help="the search step's functions timed (later_split_us_per_msg)")
    parser.add_argument("--cpu", type=int, default=0, help="pin this process to this CPU")
    parser.add_argument("--checkpoint-pages", type=int, default=0,
                        help="SQLite: the server's checkpointer thread at this many pages"
                             " (its setting's default 1000; 0: SQLite's own, in the commits)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'w.db'}"
        result = uvloop.run(run(args, url))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
