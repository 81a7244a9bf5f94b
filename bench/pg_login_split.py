"""A login's cost on PostgreSQL by statement, old code against new in one
run: one cluster (bench/xmpp_servers.py's, pinned to the server's CPU,
pg_stat_statements loaded), ``login_storm.py --mode storm --pg-stats``
alternated between the code under test and ``--old`` (a ``src`` folder
put first on PYTHONPATH, e.g. an extracted commit:
``git archive <commit> src | tar -x -C /tmp/old``).

    python bench/pg_login_split.py --old /tmp/old/src --rounds 3 --users 300

Prints each run's JSON line, then one summary line per side: the medians of
the server's and PostgreSQL's CPU per login and the statements per login
(from the last run's ``by_statement``)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from xmpp_servers import postgres

HERE = Path(__file__).parent


def storm(url: str, src: str, args: argparse.Namespace, profile: str) -> dict[str, Any]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    done = subprocess.run(
        [sys.executable, str(HERE / "login_storm.py"), "--mode", "storm", "--pg-stats",
         "--users", str(args.users), "--in-flight", str(args.in_flight),
         "--seeded", str(args.seeded), "--database-url", url,
         *(["--profile", profile] if profile else [])],
        env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"login_storm failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="", help="the old side's src folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--seeded", type=int, default=100)
    parser.add_argument("--profile", metavar="PATH",
                        help="py-spy the server (login_storm.py --profile): PATH.old0.first ...")
    args = parser.parse_args()
    sides = [("old", args.old), ("new", "")] if args.old else [("new", "")]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in sides}
    with postgres(("shared_preload_libraries=pg_stat_statements",
                   "pg_stat_statements.track_planning=on")) as pg:
        for i in range(args.rounds):
            for name, src in (sides if i % 2 == 0 else sides[::-1]):
                profile = args.profile and f"{args.profile}.{name}{i}"
                result = storm(pg.url, src, args, profile)
                result["side"] = name
                runs[name].append(result)
                print(json.dumps(result), flush=True)
    for name, results in runs.items():
        summary: dict[str, Any] = {"side": name, "runs": len(results)}
        for kind in ("first", "again"):
            summary[kind] = {
                "server_cpu_ms_per_login": statistics.median(
                    r[kind]["server_cpu_ms_per_login"] for r in results),
                "pg_cpu_ms_per_login": statistics.median(
                    r[kind]["postgres"]["pg_cpu_ms_per_login"] for r in results),
                "statements_per_login": results[-1][kind]["postgres"]["statements_per_login"],
                "other_cpu_pct": [r[kind]["other_cpu_pct"] for r in results]}
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
