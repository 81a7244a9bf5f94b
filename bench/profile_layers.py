"""Where the server's CPU goes, by layer: py-spy samples of a running server
split into socket, parse, service, writer, encode, fan-out (issue 19).

``Profiler(pid, path)`` runs ``py-spy record`` on the server for a bench's
measured window (py-spy is not pinned to the server's CPU: it is spawned by
the bench process, already on the clients' CPU, and samples with
``--nonblocking``, so it does not stop the server to read it). ``layers``
reads py-spy's raw output (one folded stack per line, ``frame;frame;... N``)
and gives each sample to a layer by its innermost frame that belongs to one.

    python bench/profile_layers.py PROFILE.txt [--us-per-msg 120]

prints the split of a saved profile (with ``--us-per-msg``, in microseconds
of server CPU per message as well as in per cent).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Innermost first: a sample belongs to the first rule that matches one of its
# frames, read from the leaf towards the root. Paths are as py-spy prints them.
RULES: list[tuple[str, re.Pattern[str]]] = [
    ("encode", re.compile(r"tidings/protocol/(frames\.py|views\.py|events\.py|sync_reply\.py)"
                          r"|^(ok|fail|event_frame) \(|orjson")),
    ("parse", re.compile(r"parse_frame|pydantic|model_validate|tidings/protocol/ops\.py"
                         r"|tidings/domain/requests\.py")),
    ("writer", re.compile(r"tidings/store/|sqlite3|sqlalchemy|aiosqlite|asyncpg")),
    ("fan-out", re.compile(r"tidings/bus/|services/messaging/delivery\.py"
                           r"|\((push|reply) \(.*gateway/session\.py")),
    ("service", re.compile(r"tidings/services/|tidings/domain/")),
    ("socket", re.compile(r"uvicorn/|websockets/|starlette/|wsproto|picows"
                          r"|gateway/asgi\.py|gateway/ws_direct\.py"
                          r"|gateway/ws_lean\.py|gateway/ws_frames\.py"
                          r"|send_now|_write_loop|asyncio/|uvloop")),
    ("gateway", re.compile(r"tidings/gateway/")),
]


def _layer(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, pattern in RULES:
            if pattern.search(frame):
                return name
    return "other"


def layers(path: Path) -> dict[str, float]:
    """Per cent of the samples in each layer (rounded to 0.1)."""
    counts: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            counts[_layer(stack)] += int(n)
    total = sum(counts.values()) or 1
    return {name: round(100 * n / total, 1) for name, n in counts.most_common()}


def per_message(split: dict[str, float], us_per_msg: float | None) -> dict[str, float]:
    if not us_per_msg:
        return {}
    return {name: round(p * us_per_msg / 100, 1) for name, p in split.items()}


class Profiler:
    """``py-spy record`` on ``pid`` from now until ``finish``, raw folded
    stacks to ``path``."""

    def __init__(self, pid: int, path: Path, rate: int = 250) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.path = path
        # --gil: only the thread that holds the GIL, i.e. Python's CPU. Without
        # it py-spy also counts threads blocked in C (the loop's epoll wait,
        # the commit's fsync) as busy, which swamps a low-rate profile; what
        # runs without the GIL (SQLite's own work, the sync) is in the bench's
        # by-thread system and user times instead.
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
             "--nonblocking", "--gil", "-o", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish(self) -> dict[str, float]:
        self.proc.send_signal(signal.SIGINT)  # py-spy writes what it has, then exits
        self.proc.wait(timeout=60)
        return layers(self.path) if self.path.exists() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--us-per-msg", type=float)
    args = parser.parse_args()
    split = layers(args.profile)
    print(json.dumps({"pct": split, "us_per_msg": per_message(split, args.us_per_msg)}))


if __name__ == "__main__":
    main()
