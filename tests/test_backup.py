"""``tidings backup`` (docs/operations.md, "Backup and restore"): a copy of
the SQLite database taken while the server runs and writes, whole and
consistent, that a server started on it serves; it never overwrites a file,
and on PostgreSQL it points to pg_dump, with one line and no traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.support import Conn, Server
from tidings.store.backup import backup_sqlite


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_backup_taken_while_serving_holds_what_was_acked(
        make_server: Any, tmp_path: Path) -> None:
    """Five acked messages, then a backup with the server still running."""
    server: Server = make_server()
    app = server.create_app()
    alice = await Conn.login(server, app, "alice")
    for i in range(5):
        assert (await alice.send_text("c2c_bob", f"before backup {i}"))["ok"]
    _backup_and_check(server, tmp_path / "copy.db")
    await alice.close()


def _backup_and_check(server: Server, out: Path) -> None:
    done = server.cli("backup", str(out))
    report = json.loads(done.stdout)
    assert report["backup"] == str(out.resolve()) and report["pages"] > 0
    assert report["bytes"] == out.stat().st_size
    assert "of" in done.stderr and "pages" in done.stderr  # progress, with its total
    assert not Path(str(out) + ".part").exists()
    with sqlite3.connect(out) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        texts = [r[0] for r in db.execute("SELECT elements FROM messages")]
    assert sum("before backup" in t for t in texts) == 5

    again = server.cli("backup", str(out), check=False)
    assert again.returncode != 0 and "exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_backup_refuses_a_missing_source_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        backup_sqlite(tmp_path / "absent.db", tmp_path / "out.db")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("backend", ["postgresql"])
def test_on_postgresql_backup_points_to_pg_dump(make_server: Any, tmp_path: Path) -> None:
    server: Server = make_server()
    failed = server.cli("backup", str(tmp_path / "x.db"), check=False)
    assert failed.returncode != 0 and "pg_dump" in failed.stderr
    assert "Traceback" not in failed.stderr and not (tmp_path / "x.db").exists()
