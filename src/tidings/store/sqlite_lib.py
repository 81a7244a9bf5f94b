"""SQLite's memory counters off, once per process, before its first
connection (issue 19, perf-sat).

With its memory counters on (SQLite's default, ``SQLITE_CONFIG_MEMSTATUS``)
every ``malloc`` and ``free`` of SQLite takes one global mutex, shared by
every connection and thread of the process: at saturation, pthread's
mutexes were ~11 % of the writer thread's samples (perf), and a batch of
900 messages' INSERT and COMMIT 14 % cheaper without the counters
(bench/insert_btrees.py ``--memstatus off``). Nothing of Tidings reads them
(``sqlite3_memory_used``, ``soft_heap_limit``).

The setting is only taken while SQLite is not in use, so this shuts SQLite
down and starts it again around it, and only when that is harmless: the
``sqlite3`` module must use the library that ``ctypes`` finds (a connection
of the module shows in that library's counters) and no SQLite object may be
alive in the process (its counters at zero). Anything else leaves SQLite as
it is."""

from __future__ import annotations

import ctypes
import sqlite3
import threading
from pathlib import Path

_CONFIG_MEMSTATUS = 9  # sqlite3.h
_lock = threading.Lock()
_done: bool | None = None  # None: not tried yet


def malloc_counters_off() -> bool:
    """Whether SQLite's memory counters are off in this process (tried once)."""
    global _done
    with _lock:
        if _done is None:
            _done = _turn_off()
        return _done


def _library() -> str | None:
    """The SQLite library mapped into this process (the ``sqlite3`` module's,
    loaded by its import), else the one the system would load."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        maps = ""
    for line in maps.splitlines():
        path = line.rpartition(" ")[2]
        if "/libsqlite3." in path:
            return path
    import ctypes.util  # its import brings subprocess and shutil: only here

    return ctypes.util.find_library("sqlite3")


def _turn_off() -> bool:
    name = _library()
    if name is None:
        return False
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return False
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    if lib.sqlite3_memory_used() != 0:
        return False  # a connection (ours or a library's) is open: leave it
    probe = sqlite3.connect(":memory:")
    try:
        same = lib.sqlite3_memory_used() > 0  # the module's SQLite is this one
    finally:
        probe.close()
    if not same or lib.sqlite3_memory_used() != 0:
        return False
    if lib.sqlite3_shutdown() != 0:
        return False
    configured: bool = lib.sqlite3_config(_CONFIG_MEMSTATUS, ctypes.c_int(0)) == 0
    started: bool = lib.sqlite3_initialize() == 0
    return started and configured
