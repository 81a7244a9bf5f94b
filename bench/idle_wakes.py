"""What an idle server does when nobody is connected: its wake-ups
(context switches), read syscalls and CPU per minute, for two versions
side by side (the push worker's and the callbacks dispatcher's polls,
uvicorn's main loop, issue 19). The event loop's own switches (the main
thread's) are shown apart from the whole process's.

Starts ``tidings serve`` (SQLite, a fresh data directory, no client) once
per source tree given, each pinned to its own core, waits ``--settle``
seconds, then reads /proc for ``--seconds`` seconds; the versions run at
the same time, so the machine's load is the same for both.

    git -C /work/integrate archive 716325c src | tar -x -C /tmp/fixes-old
    python bench/idle_wakes.py --src old=/tmp/fixes-old/src --src new=src --seconds 30

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def counters(pid: int) -> dict[str, int]:
    """Context switches, read syscalls and CPU ticks of the process's threads."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    found = {line.split(":")[0]: int(line.split()[1]) for line in status
             if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))}
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Threads' switches: the process's status counts its main thread only.
    switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
    return {"switches": switches, "main_switches": sum(found.values()),
            "read_syscalls": int(io["syscr"]), "cpu_ticks": int(stat[11]) + int(stat[12])}


def start(name: str, src: str, core: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    data = tempfile.mkdtemp(prefix=f"idle-wakes-{name}-")
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve()), "TIDINGS_DATA_DIR": data,
           "TIDINGS_PORT": str(port), "TIDINGS_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-m", "tidings",
                             "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return proc, port
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit(f"{name} did not start") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", action="append", required=True,
                        help="name=path of a source tree (its src/), twice or more")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args()
    trees = [spec.split("=", 1) for spec in args.src]
    cores = os.cpu_count() or 1
    procs = [(name, *start(name, path, i % cores)) for i, (name, path) in enumerate(trees)]
    try:
        time.sleep(args.settle)
        before = {name: counters(proc.pid) for name, proc, _ in procs}
        load_before = Path("/proc/stat").read_text().split()[1:8]
        time.sleep(args.seconds)
        after = {name: counters(proc.pid) for name, proc, _ in procs}
        load_after = Path("/proc/stat").read_text().split()[1:8]
    finally:
        for _, proc, _ in procs:
            proc.terminate()
        for _, proc, _ in procs:
            proc.wait(30)
    per_min = 60 / args.seconds
    hz = os.sysconf("SC_CLK_TCK")
    busy = [int(a) - int(b) for a, b in zip(load_after, load_before, strict=True)]
    total = sum(busy)
    other_cpu_pct = round(100 * (total - busy[3] - busy[4]) / max(total, 1) * cores, 1)
    result = {name: {"switches_per_min": round((after[name]["switches"]
                                                - before[name]["switches"]) * per_min),
                     # The main thread is the event loop's; the rest are the
                     # other threads' (on SQLite the checkpointer's look at
                     # the log, twice a second).
                     "loop_switches_per_min": round((after[name]["main_switches"]
                                                     - before[name]["main_switches"]) * per_min),
                     "read_syscalls_per_min": round((after[name]["read_syscalls"]
                                                     - before[name]["read_syscalls"]) * per_min),
                     "cpu_ms_per_min": round((after[name]["cpu_ticks"] - before[name]["cpu_ticks"])
                                             * 1000 / hz * per_min)}
              for name, _, _ in procs}
    print(f"{'tree':8} {'switches/min':>13} {'of the loop':>12} {'read syscalls/min':>18}"
          f" {'CPU ms/min':>11}")
    for name, row in result.items():
        print(f"{name:8} {row['switches_per_min']:>13} {row['loop_switches_per_min']:>12}"
              f" {row['read_syscalls_per_min']:>18} {row['cpu_ms_per_min']:>11}")
    # The servers' own CPU is a few ms a minute: the machine's busy time is
    # the others'.
    print(f"other_cpu_pct (the machine's busy time, % of one core): {other_cpu_pct}")
    print(json.dumps({"seconds": args.seconds, "other_cpu_pct": other_cpu_pct, **result}))


if __name__ == "__main__":
    main()
