"""A consistent copy of the embedded SQLite database while the server runs
(``tidings backup``; docs/operations.md, "Backup and restore"), with
SQLite's online backup API: the copy is a snapshot of one moment, taken in
steps so that the server's writer waits at most one step's time, and it is
written beside its target, checked and synced, then renamed into place, so
a file at the target's name is always a whole backup. PostgreSQL is backed
up with its own tools (``pg_dump``)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

# Pages copied per step (4 MiB at SQLite's default 4 KiB page).
STEP_PAGES = 1024

Progress = Callable[[int, int], None]


def sqlite_file(database_url: str) -> Path | None:
    """The SQLite file of a database URL (None: another database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


def backup_sqlite(source: Path, target: Path, progress: Progress | None = None) -> int:
    """Copy ``source`` to ``target`` (which must not exist); returns the
    pages copied. ``progress(done, total)`` is called after each step."""
    if not source.is_file():
        raise FileNotFoundError(f"no database at {source}")
    if target.exists():
        raise FileExistsError(f"{target} exists; a backup never overwrites a file")
    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)
    pages = [0]

    def step(_status: int, remaining: int, total: int) -> None:
        pages[0] = total
        if progress is not None:
            progress(total - remaining, total)

    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(part)
        try:
            src.backup(dst, pages=STEP_PAGES, progress=step)
            verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise RuntimeError(f"the copy failed its check: {verdict}")
        finally:
            dst.close()
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    with open(part, "rb") as f:
        os.fsync(f.fileno())
    part.replace(target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return pages[0]
