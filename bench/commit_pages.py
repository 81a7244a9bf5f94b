"""The pages a message that commits alone writes to SQLite's WAL, by the
features' rows in its transaction (issue 19).

The writer is built as ``runtime.py`` builds it, on a fresh SQLite file whose
batch connection never checkpoints (``wal_autocheckpoint=0``), so the WAL
only grows: its growth over ``--messages`` lone commits, in frames (a 24-byte
header and one page each; SQLite writes them as two ``pwrite`` calls), is the
pages each commit wrote, its commit frame included (for ``message_texts``
also SQLite's FTS5 step, which follows the commits every 64 messages in an
unsynced transaction of its own: its pages are shared out). One set of features a
key: the bare message (its row, its conversation's counters and the
sender's read cursor), then with each feature's rows, then all of them.

    python bench/commit_pages.py --messages 400

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event

from tidings.domain.ids import c2c_key
from tidings.domain.records import NewMessage
from tidings.store.callbacks import OutboxRows
from tidings.store.engine import Database, migrate, open_database
from tidings.store.media import MediaRefRows
from tidings.store.mentions import MentionRows
from tidings.store.push import PushJobRows
from tidings.store.search import TextRows
from tidings.store.writer import MessageWriter, TransactionRows

APP = 1400000001
FRAME_HEADER = 24

FEATURES: dict[str, Callable[[Database], TransactionRows]] = {
    "message_texts": TextRows,
    "media_refs": MediaRefRows,
    "mentions": MentionRows,
    "callback_outbox": OutboxRows,
    "push_jobs": lambda db: PushJobRows(db, lambda app: True),
}


def attach_push(writer: MessageWriter, rows: TransactionRows) -> None:
    """Register push's rows as runtime.py does: on SQLite since perf-pushrows
    the message row carries the job (``attach``); older code registers them."""
    attach = getattr(rows, "attach", None)
    if attach is not None:
        attach(writer)
    else:
        writer.register(rows)


def _no_checkpoints(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


def _wal_size(path: Path) -> int:
    return Path(f"{path}-wal").stat().st_size


async def frames_per_commit(features: list[str], messages: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.db"
        db = open_database(f"sqlite+aiosqlite:///{path}")
        await migrate(db)
        assert db.batch is not None
        event.listen(db.batch.engine, "connect", _no_checkpoints)
        writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
        rows = [FEATURES[name](db) for name in features]
        writer.register(*(r for r in rows if not isinstance(r, PushJobRows)))
        for r in rows:
            if isinstance(r, PushJobRows):
                attach_push(writer, r)
        writer.start()
        body = orjson.dumps([{"type": "text", "text": "see you at the station at noon"}]).decode()
        key = c2c_key(APP, "s0", "p0")
        # Warm: the conversation made, the tables past their first pages.
        for n in range(20):
            await writer.submit(NewMessage(key, "s0", f"warm-{n}", body, ""))
        size0, batches0 = _wal_size(path), writer.batches
        for n in range(messages):
            await writer.submit(NewMessage(key, "s0", f"m-{n}", body, ""))
        grown, batches = _wal_size(path) - size0, writer.batches - batches0
        await writer.stop()
        await db.dispose()
        with sqlite3.connect(path) as conn:
            (page,) = conn.execute("PRAGMA page_size").fetchone()
        return round(grown / (page + FRAME_HEADER) / batches, 2)


async def run(messages: int) -> dict[str, float]:
    sets = [[]] + [[name] for name in FEATURES] + [list(FEATURES)]
    out: dict[str, float] = {}
    for features in sets:
        label = "+".join(features) if len(features) < len(FEATURES) else "all"
        out[label or "bare"] = await frames_per_commit(features, messages)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    print(json.dumps({"wal_frames_per_lone_commit": asyncio.run(run(args.messages))}))


if __name__ == "__main__":
    main()
