"""SQLite's WAL checkpoints on a thread of their own (store/checkpointer.py):
the log stays bounded under writes, with the thread or without it, and a
kill -9 in the middle of a checkpoint loses no committed transaction.

SQLite only, on a bare table (no migrations): the checkpointer sees pages,
not the schema.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import types
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection

from tidings.store import checkpointer
from tidings.store.engine import Database, open_database

PAGES = 32
# Each transaction writes a row of three pages' worth of blob (with its
# b-tree pages, four or five frames of log).
ROW = "INSERT INTO t (b) VALUES (randomblob(3 * 4096))"


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _create(conn: Connection) -> None:
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, b BLOB)")


def _insert(conn: Connection) -> None:
    conn.exec_driver_sql(ROW)


async def _autocheckpoint(db: Database) -> int | None:
    async with db.reader.connect() as conn:
        return (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar()


def _frames_on_disk(path: Path) -> int:
    size = os.path.getsize(f"{path}-wal")
    return max(0, (size - 32) // (4096 + 24))


async def test_without_the_setting_sqlite_checkpoints_as_before(tmp_path: Path) -> None:
    db = open_database(_url(tmp_path / "t.db"))
    try:
        assert db.checkpointer is None
        await db.run_write(_create)
        assert await _autocheckpoint(db) == 1000
    finally:
        await db.dispose()


async def test_the_thread_copies_the_log_and_the_next_write_restarts_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer never checkpoints here: what is copied is the thread's.
    monkeypatch.setattr(checkpointer, "FALLBACK", 10**9)
    monkeypatch.setattr(checkpointer, "_PREALLOCATED_MOST", 0)  # not 64 MiB of zeros
    monkeypatch.setattr(checkpointer, "_POLL", 0.05)  # idle sooner
    # Asleep at idle until a commit wakes it (the loop's writes below).
    monkeypatch.setattr(checkpointer, "_IDLE_POLL", 3600.0)
    in_writer: list[int] = []
    monkeypatch.setattr(checkpointer.Checkpointer, "_in_writer",
                        lambda self, raw: in_writer.append(1))
    db = open_database(_url(tmp_path / "t.db"), checkpoint_pages=PAGES)
    try:
        assert db.checkpointer is not None
        await db.run_write(_create)
        assert await _autocheckpoint(db) == 0
        for _ in range(60):
            await db.run_write(_insert)
        # Writes stopped: the thread copies the whole log, the rest under
        # PAGES once the writer is idle (the deadline is only how long to
        # wait, not a speed asserted).
        deadline = time.monotonic() + 30
        while True:
            frames = db.checkpointer.frames()
            assert frames is not None
            if frames[0] == frames[1]:
                break
            assert time.monotonic() < deadline, frames
            if frames[0] < PAGES:
                # The log restarted during the writes and its tail is short:
                # left alone at idle by design (the next test); a write
                # more takes it past PAGES (it ended at 26 of 32 in 1 CI
                # run of 3, and the test waited its 30 s).
                await db.run_write(_insert)
            await asyncio.sleep(0.01)
        assert frames[1] > 0
        await db.run_write(_insert)
        # Everything was copied when it began: the log starts over.
        after = db.checkpointer.frames()
        assert after is not None and after[0] < 10, (frames, after)
        assert in_writer == []
    finally:
        await db.dispose()


async def test_a_short_log_is_left_alone_when_the_writer_is_idle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # At a message now and then, copying it at each idle moment would be a
    # checkpoint (two fsyncs) a message.
    monkeypatch.setattr(checkpointer, "_POLL", 0.02)
    db = open_database(_url(tmp_path / "t.db"), checkpoint_pages=PAGES)
    try:
        assert db.checkpointer is not None
        await db.run_write(_create)
        await db.run_write(_insert)
        await asyncio.sleep(0.2)  # ten idle polls
        frames = db.checkpointer.frames()
        assert frames is not None
        assert 0 < frames[0] < PAGES and frames[1] == 0, frames
    finally:
        await db.dispose()


@pytest.mark.parametrize("thread", ["stuck", "running"])
async def test_the_log_stays_bounded_under_back_to_back_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, thread: str) -> None:
    # A thread checkpointing beside back-to-back commits keeps losing the
    # race for the log's restart; a stuck one (or one a reader holds back)
    # never copies at all.
    if thread == "stuck":
        monkeypatch.setattr(checkpointer.Checkpointer, "_checkpoint", lambda self, conn: None)
    path = tmp_path / "t.db"
    db = open_database(_url(path), checkpoint_pages=PAGES)
    try:
        assert db.checkpointer is not None
        await db.run_write(_create)
        most = 0
        for _ in range(200):  # ~1,000 frames of log
            await db.run_write(_insert)
            frames = db.checkpointer.frames()
            assert frames is not None
            most = max(most, frames[0])
        # Past 4 * PAGES the writer copies the log after its commit and its
        # next transaction restarts it: one transaction's frames over.
        assert most < checkpointer.FALLBACK * PAGES + 10, most
        assert _frames_on_disk(path) < checkpointer.FALLBACK * PAGES + 10
    finally:
        await db.dispose()


async def test_an_idle_thread_sleeps_until_a_commit_of_the_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A poll twice a second woke an idle process for nothing: now a commit
    # (the message writer's, or the other write engine's) wakes it.
    monkeypatch.setattr(checkpointer, "_POLL", 0.02)
    monkeypatch.setattr(checkpointer, "_IDLE_POLL", 3600.0)
    waits: list[float | None] = []  # the thread's waits, by their timeout

    class Counted(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout)
            return super().wait(timeout)

    monkeypatch.setattr(checkpointer, "threading", types.SimpleNamespace(
        Event=Counted, Thread=threading.Thread, Lock=threading.Lock))
    db = open_database(_url(tmp_path / "t.db"), checkpoint_pages=PAGES)
    cp = db.checkpointer
    assert cp is not None

    async def asleep(made: int) -> None:
        """Until the thread has counted the ``made`` commits and waits an
        hour, and stays in that wait for ten polls of the old way (a thread
        that polls never does). Not the first hour-long wait seen: a commit
        noted after the test saw it (``after_commit`` runs once the commit
        is answered) wakes the thread from it."""
        deadline = time.monotonic() + 30  # how long to wait, not a speed
        while True:
            assert time.monotonic() < deadline, (waits[-5:], cp._commits, made)
            before = len(waits)
            if before and waits[-1] == 3600.0 and cp._commits == made:
                await asyncio.sleep(0.2)
                if len(waits) == before:
                    return
            else:
                await asyncio.sleep(0.01)

    async def woken(commit: Callable[[], Awaitable[None]]) -> None:
        """Until the thread waits again after ``commit``: its waits counted
        before the commit, whose wake may come before the commit's answer
        is read (the other engine's is noted before it is on disk) and the
        thread be asleep again by the time this task runs."""
        before = len(waits)
        await commit()
        deadline = time.monotonic() + 30
        while len(waits) == before:
            assert time.monotonic() < deadline, (waits[-5:], cp._commits)
            await asyncio.sleep(0.01)

    async def batch() -> None:  # the message writer's commit
        await db.run_write(_insert)

    async def engine() -> None:  # the other engine's
        async with db.writer.begin() as conn:
            await conn.exec_driver_sql(ROW)

    try:
        await db.run_write(_create)
        await asleep(1)
        await woken(batch)
        await asleep(2)
        await woken(engine)
        await asleep(3)
    finally:
        await db.dispose()


def test_two_commits_noted_at_once_are_both_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ``noted`` runs on the batch thread (after_commit) and on the other
    # write engine's (its commit event) at the same time. A count one short
    # loses a wake: the thread, having seen the other commit, goes to sleep
    # for an hour past this one (its look finds the count it saw). Here the
    # first count stops between its read and its write, and the second runs
    # to its end meanwhile or waits for the first.
    progressed = threading.Event()  # the second finished, or it waits

    class Watched:
        """A lock that tells when an acquire has to wait."""

        def __init__(self) -> None:
            self._lock = threading.Lock()

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            if self._lock.acquire(False):
                return True
            if not blocking:
                return False
            progressed.set()
            return self._lock.acquire(True, timeout)

        def release(self) -> None:
            self._lock.release()

        def __enter__(self) -> bool:
            return self.acquire()

        def __exit__(self, *exc: object) -> None:
            self.release()

    monkeypatch.setattr(checkpointer, "threading", types.SimpleNamespace(
        Event=threading.Event, Thread=threading.Thread, Lock=Watched))
    cp = checkpointer.Checkpointer(str(tmp_path / "t.db"), PAGES)  # no thread
    paused = threading.Event()
    go_on = threading.Event()
    first_call = [True]

    class Paused(int):
        def __add__(self, other: int) -> int:  # type: ignore[override]
            if first_call.pop() if first_call else False:
                paused.set()
                assert go_on.wait(30)
            return int(self) + other

    cp._commits = Paused(0)

    def second() -> None:
        cp.noted()
        progressed.set()

    threads = [threading.Thread(target=cp.noted), threading.Thread(target=second)]
    threads[0].start()
    assert paused.wait(30)
    threads[1].start()
    assert progressed.wait(30)
    go_on.set()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert cp._commits == 2


async def _made_full_size(path: Path) -> None:
    """Until the thread has made the log its full size (the deadline is
    only how long to wait, not a speed asserted)."""
    deadline = time.monotonic() + 30
    while _frames_on_disk(path) < checkpointer.FALLBACK * PAGES:
        assert time.monotonic() < deadline, _frames_on_disk(path)
        await asyncio.sleep(0.02)


async def test_a_new_database_opens_beside_the_thread(tmp_path: Path) -> None:
    # The thread waits for the log: a transaction of its own on a file not
    # yet in WAL mode made the first connection's switch to WAL fail at
    # once ("database is locked": SQLite does not wait there).
    for n in range(20):
        db = open_database(_url(tmp_path / f"t{n}.db"), checkpoint_pages=PAGES)
        try:
            await db.run_write(_create)
            await db.run_write(_insert)
        finally:
            await db.dispose()


async def test_the_log_is_made_its_full_size_once_it_is_long(tmp_path: Path) -> None:
    # Commits then write over zeros, not past the file's end (ext4 journals
    # a new size in the commit's fsync); SQLite reads the zeros as the end.
    path = tmp_path / "t.db"
    db = open_database(_url(path), checkpoint_pages=PAGES)
    try:
        await db.run_write(_create)
        await asyncio.sleep(0.6)  # more than a poll: a short log stays short
        assert _frames_on_disk(path) < PAGES
        for _ in range(8):  # past PAGES frames
            await db.run_write(_insert)
        await _made_full_size(path)
        assert _frames_on_disk(path) == checkpointer.FALLBACK * PAGES
        for _ in range(92):  # the log restarts several times over the zeros
            await db.run_write(_insert)
        # Another connection reads every row: its own view of the log.
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (100,)
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            conn.close()
    finally:
        await db.dispose()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (100,)
    finally:
        conn.close()


# The child: commits one row per transaction through the message writer's
# thread, says "acked N" after each commit, and "checkpoint" when the
# checkpointer's thread starts one.
_CHILD = r"""
import asyncio, os, sys
from tidings.store import checkpointer
from tidings.store.engine import Database, open_database

copy = checkpointer.Checkpointer._checkpoint

def loud(self, conn):
    os.write(1, b"checkpoint\n")  # one write: the threads' lines stay whole
    copy(self, conn)

checkpointer.Checkpointer._checkpoint = loud

def create(conn):
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, b BLOB)")

def insert(conn, n):
    conn.exec_driver_sql("INSERT INTO t VALUES (?, randomblob(16 * 4096))", (n,))

async def main():
    db = open_database(sys.argv[1], checkpoint_pages=16)
    await db.run_write(create)
    wal = sys.argv[1].split("///")[1] + "-wal"
    n = 0
    while True:
        await db.run_write(insert, n)
        os.write(1, f"acked {n}\n".encode())
        if os.path.getsize(wal) >= 32 + 64 * 4120:
            os.write(1, b"sized\n")  # the log made its full size
        n += 1

asyncio.run(main())
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("log", ["grown", "preallocated"])
def test_kill9_in_a_checkpoint_loses_no_commit(tmp_path: Path, log: str) -> None:
    path = tmp_path / "t.db"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, _url(path), log],
                             stdout=subprocess.PIPE, text=True)
    acked: list[int] = []
    try:
        assert child.stdout is not None
        sized = log == "grown"  # then any checkpoint will do
        for line in child.stdout:
            if line.startswith("acked "):
                acked.append(int(line.split()[1]))
            elif line.strip() == "sized":
                sized = True
            elif line.strip() == "checkpoint" and len(acked) >= 40 and sized:
                # The thread is copying ~17 transactions' pages of 16 KiB rows.
                child.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail(f"the child ended by itself: {child.wait()}")
    finally:
        child.kill()
        child.wait()
    # The rest of the pipe: acks printed before the kill landed.
    assert child.stdout is not None
    acked += [int(line.split()[1]) for line in child.stdout if line.startswith("acked ")]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {n for (n,) in conn.execute("SELECT n FROM t")}
    finally:
        conn.close()
    assert set(acked) <= stored
    assert stored == set(range(len(stored)))
