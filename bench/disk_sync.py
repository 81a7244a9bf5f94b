"""What this disk's ``fdatasync`` costs a lone commit, without the server.

A lone message's commit on SQLite appends ~7 WAL frames (4,096 + 24 bytes
each: ``commit_pages.py``) and ``fdatasync``\\s the log; at 500 msg/s most
commits are lone. This does the same writes from one thread at the same
rate, on a fixed schedule, into a file in ``--dir`` (by default where the
bench's server keeps its data: the temp dir), and gives each write plus
``fdatasync``'s time: its p50/p99/p99.9, against the server's commits'
(``chat_load.py --tail``: ``commit_phases_ms``). The file is the WAL in
one of these states, interleaved round by round:

- ``grow``: a new file, each write appended (the log after a start, and
  whenever it outgrows its largest size so far): ext4 must commit the
  file's new size in its journal at each ``fdatasync``;
- ``reuse``: a file written and synced to its full size first, the writes
  going round it in place (the log restarted over its old frames: what a
  running server does once the log has reached its size);
- ``falloc``: a file ``posix_fallocate``\\d to its full size, then in place
  (unwritten extents: ext4 converts them, a journal commit too);
- ``beside``: ``reuse``, with a thread copying ``--ckpt-pages`` random
  pages into a second file and ``fsync``\\ing it every ``--ckpt-every``
  seconds (a WAL checkpoint beside the commits, store/checkpointer.py).

``others_w_per_s`` and ``others_flush_per_s`` are the disk's writes and
flushes (``/proc/diskstats``) not ours: what the rest of the machine did
to the same disk meanwhile.

    python bench/disk_sync.py                          # 3 rounds x 4 modes x 5 s
    chrt -f 10 python bench/disk_sync.py --rounds 4 --modes grow,reuse
    python bench/disk_sync.py --dir /dev/shm           # tmpfs: the floor
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

FRAME = 4096 + 24
MODES = ("grow", "reuse", "falloc", "beside")


def _device(path: str) -> str | None:
    """The block device (its name in /proc/diskstats) that holds ``path``."""
    dev = os.stat(path).st_dev
    link = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    return link.resolve().name if link.exists() else None


def _diskstats(device: str | None) -> tuple[int, int]:
    """Writes and flushes completed on ``device`` so far."""
    if device is None:
        return 0, 0
    for line in Path("/proc/diskstats").read_text().splitlines():
        fields = line.split()
        if fields[2] == device:
            flushes = int(fields[18]) if len(fields) > 18 else 0
            return int(fields[7]), flushes
    return 0, 0


def _quantiles(ns: list[int]) -> dict[str, Any]:
    ordered = sorted(ns)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1e6, 3)

    return {"n": len(ordered), "p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99),
            "p999_ms": at(0.999), "max_ms": round(ordered[-1] / 1e6, 3),
            "over_3ms": sum(v > 3_000_000 for v in ordered)}


class Beside(threading.Thread):
    """Random pages into another file and its fsync, every ``every`` s."""

    def __init__(self, path: str, pages: int, every: float) -> None:
        super().__init__(daemon=True)
        self.path, self.pages, self.every = path, pages, every
        self.stopping = threading.Event()
        self.copies = 0

    def run(self) -> None:
        size = 8192  # pages in the "database file" (32 MiB)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _fill(fd, size * 4096)
            page = os.urandom(4096)
            rnd = random.Random(1)
            while not self.stopping.wait(self.every):
                for n in sorted(rnd.sample(range(size), self.pages)):
                    os.pwrite(fd, page, n * 4096)
                os.fsync(fd)
                self.copies += 1
        finally:
            os.close(fd)


def _fill(fd: int, size: int) -> None:
    block = b"\0" * (1 << 20)
    for offset in range(0, size, len(block)):
        os.pwrite(fd, block[: min(len(block), size - offset)], offset)
    os.fsync(fd)


def run(mode: str, args: argparse.Namespace, device: str | None) -> dict[str, Any]:
    writes = int(args.rate * args.seconds)
    chunk = os.urandom(args.frames * FRAME)
    span = args.wal_frames * FRAME  # the log's size once it stops growing
    with tempfile.TemporaryDirectory(prefix="disk-sync-", dir=args.dir) as tmp:
        path = os.path.join(tmp, "wal")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        beside = None
        try:
            if mode in ("reuse", "beside"):
                _fill(fd, span)
            elif mode == "falloc":
                os.posix_fallocate(fd, 0, span)
                os.fsync(fd)
            if mode == "beside":
                beside = Beside(os.path.join(tmp, "db"), args.ckpt_pages, args.ckpt_every)
                beside.start()
                time.sleep(0.5)  # its file made and synced before the clock starts
            times: list[int] = []
            offset = 0
            w0, f0 = _diskstats(device)
            start = time.perf_counter()
            for i in range(writes):
                due = start + i / args.rate
                if (pause := due - time.perf_counter()) > 0:
                    time.sleep(pause)
                if mode != "grow" and offset + len(chunk) > span:
                    offset = 0
                t0 = time.perf_counter_ns()
                os.pwrite(fd, chunk, offset)
                os.fdatasync(fd)
                times.append(time.perf_counter_ns() - t0)
                offset += len(chunk)
            elapsed = time.perf_counter() - start
            w1, f1 = _diskstats(device)
        finally:
            if beside is not None:
                beside.stopping.set()
                beside.join()
            os.close(fd)
    # Ours: a write and a flush per fdatasync at least (the journal's more).
    return {"mode": mode, **_quantiles(times),
            "checkpoints": beside.copies if beside is not None else 0,
            "others_w_per_s": round(((w1 - w0) - writes) / elapsed),
            "others_flush_per_s": round(((f1 - f0) - writes) / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=tempfile.gettempdir(),
                        help="where the file goes (default: the temp dir, as the server's data)")
    parser.add_argument("--rate", type=float, default=500.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="per mode and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--frames", type=int, default=7, help="WAL frames per commit")
    parser.add_argument("--wal-frames", type=int, default=4000,
                        help="the log's size in frames once it stops growing")
    parser.add_argument("--ckpt-pages", type=int, default=300,
                        help="pages a checkpoint writes into the database file")
    parser.add_argument("--ckpt-every", type=float, default=0.3)
    parser.add_argument("--cpu", type=int, default=0, help="-1: not pinned")
    args = parser.parse_args()
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    device = _device(args.dir)
    modes = args.modes.split(",")
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for n in range(args.rounds):
        for mode in modes:
            result = run(mode, args, device) | {"round": n + 1}
            results[mode].append(result)
            print(json.dumps(result), flush=True)
    print(json.dumps({"summary": {
        m: {"p50_ms": statistics.median(r["p50_ms"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "p999_ms": statistics.median(r["p999_ms"] for r in rs),
            "p99_ms_runs": [r["p99_ms"] for r in rs]} for m, rs in results.items()},
        "device": device, "dir": args.dir, "frames": args.frames, "rate": args.rate}),
        flush=True)


if __name__ == "__main__":
    main()
