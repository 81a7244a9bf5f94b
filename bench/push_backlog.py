"""SQLite with an app that pushes, at saturation: does the push worker keep
up? (issue 19, perf-pgpush)

Runs ``chat_load.py --push app`` (every message gets a job: the messages'
``push_options``, read past the worker's pointer) on a SQLite file of its
own, then counts in that file the jobs written and those still past the
pointer once the server stopped (its backlog), and the ``push_jobs`` rows
left (a job whose deciding failed). With ``--old PATH`` an extracted old
``src/`` is run as the server's ``PYTHONPATH``, alternated run by run with
this checkout's, so the two sides share the machine's load::

    git -C /work/integrate archive 5301e81 src | tar -x -C /tmp/perf-pgpush-old
    python bench/push_backlog.py --old /tmp/perf-pgpush-old/src --rounds 2 --duration 8

PostgreSQL's figure is ``pg_saturation.py --push app``'s ``push_jobs`` rows
inserted and deleted per message. Prints a JSON line per run.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent


def one_run(side: str, src: str, duration: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="push-backlog-") as tmp:
        db = Path(tmp) / "tidings.db"
        env = {**os.environ}
        env.pop("PYTHONPATH", None)
        if src:
            env["PYTHONPATH"] = src
        out = subprocess.run(
            [sys.executable, str(BENCH / "chat_load.py"), "--push", "app", "--duration",
             str(duration), "--database-url", f"sqlite+aiosqlite:///{db}"],
            env=env, capture_output=True, text=True, check=True).stdout
        load = orjson.loads(out.strip().splitlines()[-1])
        conn = sqlite3.connect(db)
        try:
            written, left = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE rowid >"
                " (SELECT made_to FROM push_jobs_made)) FROM messages"
                " WHERE push_options IS NOT NULL").fetchone()
            rows = conn.execute("SELECT count(*) FROM push_jobs").fetchone()[0]
        finally:
            conn.close()
    return {"side": side, "acked_per_s": load["acked_per_s"],
            "server_us_per_msg": load["server_us_per_msg"],
            "other_cpu_pct": load["other_cpu_pct"], "ok": load["ok"],
            "jobs_written": written, "left_past_pointer": left, "rows_left": rows,
            "decided_share": round(1 - left / max(written, 1), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="", help="an old src/ to alternate with this one")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    sides = [("new", "")] + ([("old", args.old)] if args.old else [])
    for round_ in range(args.rounds):
        for side, src in sides if round_ % 2 else sides[::-1]:
            print(orjson.dumps({"round": round_, **one_run(side, src, args.duration)}).decode(),
                  flush=True)


if __name__ == "__main__":
    main()
