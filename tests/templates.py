"""Databases already at the newest schema revision, for the tests' servers.

Every server a test starts used to run all the migrations on a new, empty
database: 1-3 s of a loaded CI machine per start, hundreds of starts per run.
Each test process now migrates one template per backend, once, and a server's
database starts as a copy of it (a file copy for SQLite, ``CREATE DATABASE
... TEMPLATE`` for PostgreSQL); the server's own ``migrate`` at start then
finds nothing to do. The migrations still run for real: here, in the
migration tests (which ask for an empty database), and in every test that
starts `tidings` on a data dir of its own.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

from tidings.store.engine import migrate, open_database

_lock = threading.Lock()
_sqlite_template: Path | None = None


def _migrate(url: str) -> None:
    """Runs the migrations on ``url`` in a thread of its own, so that a test
    already inside an event loop can ask for a template too."""
    failure: list[BaseException] = []

    async def run() -> None:
        db = open_database(url)
        try:
            await migrate(db)
        finally:
            await db.dispose()

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)

    thread = threading.Thread(target=target, name="tidings-template")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def sqlite_template() -> Path:
    """This test process's migrated SQLite file (made on first use)."""
    global _sqlite_template
    with _lock:
        if _sqlite_template is None:
            path = Path(tempfile.mkdtemp(prefix="tidings-template-")) / "tidings.db"
            _migrate(f"sqlite+aiosqlite:///{path}")
            # Everything in the main file, so that one file is the whole copy.
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            _sqlite_template = path
        return _sqlite_template


def seed_sqlite(data_dir: Path) -> None:
    """Gives a data dir without a database the template's copy."""
    target = data_dir / "tidings.db"
    if target.exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_template(), target)


def migrate_template(url: str) -> None:
    """Brings a PostgreSQL template database to the newest revision."""
    _migrate(url)
