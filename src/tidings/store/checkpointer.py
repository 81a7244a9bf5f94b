"""SQLite's WAL checkpoints, out of the message writer's commits.

By default SQLite checkpoints inside the commit that takes the log past
1,000 pages: that commit, and the acks waiting on it, also wait for the
log's pages to be copied into the database file and for its fsync (at
500 msg/s, about 5 such commits a second, each ~2 ms against ~0.5: a
seventh of the slowest 1 %, bench/journal/perf-tail.md, "p99 at 500 msg/s"). Here
every connection of the server has ``wal_autocheckpoint`` off, and a
thread of its own, on a connection of its own, runs PASSIVE checkpoints:
woken by the writer right after a batch has committed and been answered
(``after_commit``) when the log holds ``pages`` frames not yet copied,
and twice a second while this process commits, for the other writers'
(and, once the writer has been idle that long with the log past ``pages``,
to copy what is left: then its next transaction starts the log over from
its beginning). Then it sleeps until a commit of this process wakes it
(``noted``: the batch thread's, and the other write engine's), looking
every ``_IDLE_POLL`` seconds for another process's. A PASSIVE checkpoint
takes no lock a writer waits for: the next batch commits meanwhile.

The log is still bounded. It restarts from its start only when a writer
begins with every frame copied; a checkpoint on another thread can keep
losing that race under steady writes (the writer begins its next batch
before the checkpoint ends), and a reader that holds an old snapshot stops
any checkpoint short of its end. So once the log holds ``4 * pages``
frames, the writer checkpoints itself after its commit, as SQLite would
(PASSIVE, after the thread's checkpoint if one is running), and its next
transaction then restarts the log. ``synchronous=FULL`` stays:
a checkpoint fsyncs the log before copying and the database file after.

The log's file is made its full size once (``_preallocate``), when it
first reaches ``pages`` frames (a process that writes less never pays):
a commit that makes the file longer costs more than one that writes over
its old frames, since ext4 must also journal the new size within that
``fdatasync`` (bench/disk_sync.py: p50 0.31 against 0.21 ms on this disk;
in a server, the first ~4,000 frames after each start, and each time the
log outgrew its longest). SQLite never shortens the log while it runs
(``journal_size_limit`` is -1) and deletes it at the last close, so the
thread, with the write lock held (``BEGIN IMMEDIATE``: no connection
appends meanwhile), writes zeros past its end up to ``FALLBACK * pages``
frames (64 MiB at most) and syncs them, 256 KiB a turn of the lock.
Zeros past the last frame are what SQLite reads as the end of the log (a
frame whose salt is not the header's), as it does the old frames of a log
it restarted.

How full the log is comes from the wal-index (the ``-shm`` file, whose
layout is SQLite's documented file format, walformat.html section 2.2):
``mxFrame``, the log's last committed frame, at byte 16 of the header,
and ``nBackfill``, the frames already copied, at byte 96, both 32-bit in
the machine's byte order. Reading them is two ``pread``\\s, not a
statement; they are a hint (read without SQLite's locks), and a wrong one
costs one checkpoint too early or late.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import struct
import threading
import time

log = logging.getLogger(__name__)

_U32 = struct.Struct("=I")
_MX_FRAME = 16  # the header's mxFrame (walformat.html, 2.2)
_N_BACKFILL = 96  # the checkpoint info's nBackfill
_SPAN = _N_BACKFILL + 4 - _MX_FRAME
# Seconds: the other writers' commits are noticed this late, and the rest
# of the log is copied after this long without the writer's commits.
_POLL = 0.5
# Seconds the thread sleeps at idle unless a commit of this process wakes
# it: another process's commits (a CLI command beside the server) are
# noticed this late.
_IDLE_POLL = 30.0
# The log's frames past which the writer checkpoints itself, in ``pages``.
FALLBACK = 4
# Seconds the writer waits for the thread's checkpoint before its own (a
# checkpoint copies at most the log: 4,000 pages take milliseconds).
_WRITER_WAIT = 1.0
# The log's header and each frame's (walformat.html), bytes.
_WAL_HEADER = 32
_FRAME_HEADER = 24
# Zeros written a turn of the write lock (a commit may wait for one turn),
# the pause between turns (s: the writer's busy handler gets the lock), and
# the most the log is made at start (a larger threshold is not worth it).
_ZEROS = 256 << 10
_TURNS_APART = 0.002
_PREALLOCATED_MOST = 64 << 20


class Checkpointer:
    def __init__(self, path: str, pages: int) -> None:
        self.path = path
        self.pages = pages
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._shm: int | None = None
        self._opening = threading.Lock()
        self._copying = threading.Lock()  # held by a checkpoint of the thread
        # Both under ``_state``: ``noted`` runs on two threads at once (the
        # batch thread's ``after_commit`` and the other write engine's
        # commits), and a ``+=`` on both could count one commit: the thread
        # that had seen the other one would then sleep past this one.
        self._state = threading.Lock()
        self._commits = 0  # this process's, counted by noted
        # The thread waits for a commit (``noted`` wakes it), not a poll.
        self._asleep = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="wal-checkpointer",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join()
            self._thread = None
        if self._shm is not None:
            os.close(self._shm)
            self._shm = None

    def frames(self) -> tuple[int, int] | None:
        """The log's committed frames and those copied into the database
        (None before the ``-shm`` file exists)."""
        try:
            if self._shm is None:
                with self._opening:  # both threads ask: one descriptor
                    if self._shm is None:
                        self._shm = os.open(self.path + "-shm", os.O_RDONLY)
            # One read from the header's mxFrame to the info's nBackfill:
            # this runs on the writer's thread after every commit.
            span = os.pread(self._shm, _SPAN, _MX_FRAME)
        except OSError:
            return None
        if len(span) < _SPAN:
            return None
        return _U32.unpack_from(span, 0)[0], _U32.unpack_from(span, _N_BACKFILL - _MX_FRAME)[0]

    def after_commit(self, raw: sqlite3.Connection) -> None:
        """On the writer's thread, after a batch's answer was handed back."""
        self.noted()
        counts = self.frames()
        if counts is None:
            return
        logged, copied = counts
        if logged - copied >= self.pages:
            self._wake.set()
        if logged >= FALLBACK * self.pages:
            self._in_writer(raw)

    def noted(self) -> None:
        """A commit of this process (the writer's, or another engine's): a
        thread asleep at idle looks again (see ``_serve``)."""
        with self._state:
            self._commits += 1
            if self._asleep:
                self._asleep = False
                self._wake.set()

    def _in_writer(self, raw: sqlite3.Connection) -> None:
        # The thread fell behind (or lost the race for the log's restart):
        # what SQLite's own autocheckpoint would have done here. After the
        # thread's checkpoint if one is running (a second one would return
        # at once, and the log go on growing while the thread copies): the
        # rest to copy is then small.
        got = self._copying.acquire(timeout=_WRITER_WAIT)
        try:
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            log.exception("WAL checkpoint in the writer failed")
        finally:
            if got:
                self._copying.release()

    def _serve(self) -> None:
        conn: sqlite3.Connection | None = None
        seen = -1  # the process's commits at the last look (noted)
        sized = False  # the log made its full size (see _preallocate)
        while not self._stopping:
            # Once the log has reached ``pages`` frames: a process that
            # writes less (a test's server) never pays for the zeros. Not
            # before the log exists either: a new database is not in WAL
            # mode yet, and switching it needs the lock this would hold
            # (SQLite then refuses the switch at once, busy handler or not).
            if not sized and (counts := self.frames()) is not None and counts[0] >= self.pages:
                try:
                    if conn is None:
                        conn = _connect(self.path)
                    sized = self._preallocate(conn)
                except (sqlite3.Error, OSError):
                    # Only time is lost: the log grows as it would have.
                    log.warning("the WAL file was not made its full size", exc_info=True)
                    sized = True
            woken = self._wake.wait(_IDLE_POLL if self._asleep else _POLL)
            # A set() between the wait's end and this clear is not lost: what
            # it told is read after (the count, the log's frames, _stopping).
            self._wake.clear()
            if self._stopping:
                break
            # The writer committed nothing for a whole poll and the log is
            # past the threshold (an earlier copy missed its restart): copy
            # the rest too, and its next transaction starts the log over. Not
            # for a short log: at a message a second, that would be a
            # checkpoint (two fsyncs) a message.
            # Then asleep until a commit: a poll twice a second woke an idle
            # process ~120 times a minute for nothing. The count and the
            # sleep under the lock noted takes: a commit is counted either
            # before this look (not idle) or after it (noted wakes the thread).
            with self._state:
                commits = self._commits
                idle = not woken and seen == commits
                if idle:
                    self._asleep = True
            seen = commits
            counts = self.frames()
            if counts is None:
                continue
            logged, copied = counts
            restart = idle and logged >= self.pages and copied < logged
            if logged - copied < self.pages and not restart:
                continue
            try:
                if conn is None:
                    conn = _connect(self.path)
                with self._copying:
                    self._checkpoint(conn)
            except sqlite3.Error:
                # The next wake tries again, on a fresh connection; meanwhile
                # the writer's fallback keeps the log bounded.
                log.exception("WAL checkpoint failed")
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _preallocate(self, conn: sqlite3.Connection) -> bool:
        """Zeros past the log's end up to ``FALLBACK * pages`` frames, synced
        (see the module); False when the log is gone (tried again at the
        next poll)."""
        wal = self.path + "-wal"
        (page,) = conn.execute("PRAGMA page_size").fetchone()
        want = min(_PREALLOCATED_MOST,
                   _WAL_HEADER + FALLBACK * self.pages * (page + _FRAME_HEADER))
        while not self._stopping:
            time.sleep(_TURNS_APART)
            conn.execute("BEGIN IMMEDIATE")
            try:
                try:
                    size = os.stat(wal).st_size
                except FileNotFoundError:
                    return False
                if size >= want:
                    return True
                fd = os.open(wal, os.O_WRONLY)
                try:
                    end = min(want, size + _ZEROS)
                    os.pwrite(fd, bytes(end - size), size)
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
            finally:
                conn.execute("COMMIT")  # nothing was written through SQLite
        return True


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn
