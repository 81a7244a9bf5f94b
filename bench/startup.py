"""What a process start costs: ``tidings serve`` until ``/healthz`` answers,
``tidings --help`` and ``tidings app create`` (the CPU every operator's
restart, every kill -9 and cluster test, every CLI call pays), and
``second-app``: in one process, a second app made, started (its lifespan)
and asked ``/healthz`` (what each in-process server of the tests costs once
the modules are imported).

Old and new code alternate run by run in one loop (the machine is shared:
only ratios measured side by side mean anything): new is this checkout's
``src``, old a copy given with ``--old`` (``git archive <commit> src | tar
-x -C DIR``; the old side runs with ``PYTHONPATH=DIR/src``). The process
measured runs on ``--cpu`` (0), this script on another core. Both sides'
bytecode is compiled first, as scripts/test does: a start without
``__pycache__`` compiles every module (~0.4 s more).

    python bench/startup.py --old /tmp/startup-ci-old --runs 5
    python bench/startup.py --old /tmp/startup-ci-old --runs 5 --what serve
    python bench/startup.py --old /tmp/startup-ci-old --runs 5 --what second-app

Prints one JSON line per run and side, then the medians and new/old ratios.
``cpu_s`` is the process's user+system CPU (for ``serve``: when /healthz
first answered), ``wall_s`` the time until then, ``other_cpu_pct`` what the
rest of the machine used meanwhile (of 200 on two cores).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

SRC = Path(__file__).resolve().parent.parent / "src"


def busy_cpu() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(src: Path | None, data_dir: Path, port: int = 0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TIDINGS_") and k != "PYTHONDONTWRITEBYTECODE"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    env["TIDINGS_DATA_DIR"] = str(data_dir)
    env["TIDINGS_LOG_LEVEL"] = "warning"
    if port:
        env["TIDINGS_PORT"] = str(port)
    return env


def pinned(cpu: int) -> Any:
    return lambda: os.sched_setaffinity(0, {cpu})


def serve_once(src: Path | None, data_dir: Path, cpu: int) -> dict[str, float]:
    port = free_port()
    b0, t0 = busy_cpu(), time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "tidings", "serve"],
                            env=env_for(src, data_dir, port), preexec_fn=pinned(cpu),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                            timeout=1) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.01)
        wall = time.monotonic() - t0
        times = ps.cpu_times()
        cpu_s = float(times.user + times.system)
        other = busy_cpu() - b0 - cpu_s
    finally:
        proc.terminate()
        proc.wait(30)
    return {"cpu_s": round(cpu_s, 3), "wall_s": round(wall, 3),
            "other_cpu_pct": round(100 * other / wall, 1)}


def command_once(src: Path | None, data_dir: Path, cpu: int, args: list[str]
                 ) -> dict[str, float]:
    b0, t0 = busy_cpu(), time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "tidings", *args],
                            env=env_for(src, data_dir), preexec_fn=pinned(cpu),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"tidings {' '.join(args)} exited with {proc.returncode}")
    cpu_s = usage.ru_utime + usage.ru_stime
    return {"cpu_s": round(cpu_s, 3), "wall_s": round(wall, 3),
            "other_cpu_pct": round(100 * (busy_cpu() - b0 - cpu_s) / wall, 1)}


SECOND_APP = """
import time
from fastapi.testclient import TestClient
from tidings.api.app import create_app
from tidings.config import Settings

def one() -> float:
    t = time.process_time()
    with TestClient(create_app(Settings())) as client:
        assert client.get("/healthz").status_code == 200
    return time.process_time() - t

one()
print(one())
"""


def second_app_once(src: Path | None, data_dir: Path, cpu: int) -> dict[str, float]:
    b0, t0 = busy_cpu(), time.monotonic()
    out = subprocess.run([sys.executable, "-c", SECOND_APP], env=env_for(src, data_dir),
                         preexec_fn=pinned(cpu), capture_output=True, text=True, check=True)
    wall = time.monotonic() - t0
    cpu_s = float(out.stdout.split()[-1])
    return {"cpu_s": round(cpu_s, 3), "wall_s": round(wall, 3),
            "other_cpu_pct": round(100 * (busy_cpu() - b0 - cpu_s) / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True,
                        help="a directory holding the old code's src/")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=0, help="the core of the measured process")
    parser.add_argument("--what", default="serve,help,app-create")
    args = parser.parse_args()
    os.sched_setaffinity(0, {c for c in os.sched_getaffinity(0) if c != args.cpu}
                         or os.sched_getaffinity(0))
    sides: dict[str, Path | None] = {"old": args.old / "src", "new": None}
    for path in (args.old / "src", SRC):
        compileall.compile_dir(path, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="tidings-startup-"))
    dirs = {side: work / side for side in sides}
    for side, src in sides.items():  # the database made and migrated once, untimed
        command_once(src, dirs[side], args.cpu, ["app", "create", "--name", "warm"])
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for run in range(args.runs):
        order = list(sides) if run % 2 == 0 else list(reversed(sides))
        for what in args.what.split(","):
            for side in order:
                src = sides[side]
                if what == "serve":
                    row = serve_once(src, dirs[side], args.cpu)
                elif what == "second-app":
                    row = second_app_once(src, dirs[side], args.cpu)
                elif what == "help":
                    row = command_once(src, dirs[side], args.cpu, ["--help"])
                else:
                    row = command_once(src, dirs[side], args.cpu,
                                       ["app", "create", "--name", f"run{run}"])
                results.setdefault((what, side), []).append(row)
                print(json.dumps({"run": run, "what": what, "side": side, **row}), flush=True)
    for what in args.what.split(","):
        summary: dict[str, Any] = {"what": what}
        for key in ("cpu_s", "wall_s", "other_cpu_pct"):
            old = statistics.median(r[key] for r in results[(what, "old")])
            new = statistics.median(r[key] for r in results[(what, "new")])
            summary[key] = {"old": old, "new": new,
                            "new/old": round(new / old, 2) if old else None}
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
