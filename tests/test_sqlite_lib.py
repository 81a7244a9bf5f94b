"""SQLite's memory counters are off in a process that opens its database
first (store/sqlite_lib.py), and left alone where a connection came first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHECK = """
import asyncio, ctypes, ctypes.util, json, sqlite3, sys
lib = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
lib.sqlite3_memory_used.restype = ctypes.c_int64
early = sqlite3.connect(":memory:") if sys.argv[2] == "early" else None
from tidings.store.engine import migrate, open_database
from tidings.store.writer import MessageWriter
from tidings.domain.ids import c2c_key
from tidings.domain.records import NewMessage

async def main():
    db = open_database("sqlite+aiosqlite:///" + sys.argv[1], checkpoint_pages=1000)
    await migrate(db)
    writer = MessageWriter(db, max_batch=100, on_commit=lambda _: None)
    writer.start()
    done = await writer.submit(NewMessage(c2c_key(1400000001, "a", "b"), "a", "m1", "[]", ""))
    await writer.stop()
    seq = done.message.seq
    probe = sqlite3.connect(":memory:")
    used = lib.sqlite3_memory_used()
    probe.close()
    await db.dispose()
    return seq, used

seq, used = asyncio.run(main())
print(json.dumps({"seq": seq, "used": used}))
"""


def run(tmp_path: Path, when: str) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path / f"{when}.db"), when],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    answer: dict[str, int] = json.loads(out.splitlines()[-1])
    return answer


def test_the_counters_are_off_when_the_database_opens_first(tmp_path: Path) -> None:
    first = run(tmp_path, "first")
    assert first["seq"] == 1  # the writer stores as before
    assert first["used"] == 0  # connections open, nothing counted: the counters are off


def test_a_connection_opened_before_leaves_sqlite_as_it_was(tmp_path: Path) -> None:
    early = run(tmp_path, "early")
    assert early["seq"] == 1
    assert early["used"] > 0  # still counted: not shut down under a live connection
