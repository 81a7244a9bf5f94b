"""p99 at 500 msg/s while the push worker works through a backlog of jobs
whose receivers are away with push devices (issue 19, perf-p99).

While it is behind, the worker's jobs steps grow to 3,200 jobs, and on
SQLite a step's sends are written on the message writer's thread, where
the messages queue. This bench makes that happen under
``chat_load.py --mode latency``:

- a data folder is made once (``--template``, this checkout's code: the
  schema is the same on both sides): an app ``Backlog`` whose ``--users``
  users each have an APNs device, and ``--per-user`` one-to-one messages
  from alice to each, written with ``push_delay`` so long that none is
  decided: a backlog of ``users * per_user`` jobs past the worker's
  pointer. The app has no APNs credentials, so each send fails at once
  without a network, and with ``push_max_attempts`` 1 it is tried once
  (each send attempted once, as a push that goes through: what a send
  costs at the push service is not what is measured, the jobs step's
  reads, deciding and write are);
- each run copies it and runs ``chat_load.py --mode latency --rate 500
  --tail`` on the copy (``--set data_dir=``): the latency pairs are in an
  app of their own (no push), and the worker starts on the backlog as the
  server starts. ``--old`` alternates an extracted ``src/`` as the
  server's ``PYTHONPATH`` with this checkout's, run by run, the order
  reversed every other round.

    git -C /work/main archive af69695 src | tar -x -C /tmp/perf-p99-old
    python bench/push_p99.py --old /tmp/perf-p99-old/src --rounds 2

Prints a JSON line per run: the messages' p50 / p99 (send -> the peer's
read) and the acks', the commits' own p99 and those over 20 ms (the
disk's stalls), the push writes on the writer's thread (count, jobs and
sends each, their p50 / max ms: the probe's ``push_finish`` and
``push_record``), the backlog left when the server stopped, the server's
CPU per message (the worker's included) and ``other_cpu_pct``; with
the probe's ``loop_lag`` (the loop's stalls over 2 ms: count, p50, max,
their sum) and the worker's two reads' awaits (``push_read_due``,
``push_read_reach``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent


async def _make(folder: Path, users: int, per_user: int) -> None:
    from tidings.config import Settings
    from tidings.domain.ids import Identity
    from tidings.domain.push import Channel
    from tidings.runtime import Runtime

    settings = Settings(data_dir=folder, rate_limit_per_second=1e9, rate_limit_burst=10**9,
                        push_delay=10**7)
    rt = await Runtime.start(settings)
    try:
        app, _ = await rt.apps.create("Backlog", "", "admin")
        names = [f"away{n}" for n in range(users)]
        for n, user in enumerate(names):
            await rt.push._store.register(app.sdkappid, user, f"{user}-phone", Channel.APNS,
                                          f"{n:064x}", False)
        alice = Identity(app.sdkappid, "alice")
        body = orjson.dumps([{"type": "text", "text": "see you at noon"}])
        gate = asyncio.Semaphore(256)

        async def one(user: str, n: int) -> None:
            async with gate:
                await rt.messaging.send(alice, f"c2c_{user}", f"b{n}-{user}", body, "")

        await asyncio.gather(*(one(user, n) for n in range(per_user) for user in names))
    finally:
        await rt.stop()


def _backlog(db: Path) -> int:
    """Messages with push options past the worker's pointer."""
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(
            "SELECT count(*) FROM messages WHERE push_options IS NOT NULL"
            " AND rowid > (SELECT made_to FROM push_jobs_made)").fetchone()[0])
    finally:
        conn.close()


def _probe_figures(path: Path) -> dict[str, Any]:
    """The push writes and the commits over 20 ms, from the probe's file."""
    lines = path.read_text().splitlines()[1:]
    events = [json.loads(line) for line in lines]
    out: dict[str, Any] = {}
    for kind in ("push_finish", "push_record", "loop_lag", "push_read_due", "push_read_reach"):
        spans = sorted((e[2] - e[1]) / 1e6 for e in events if e[0] == kind)
        out[kind] = {"n": len(spans),
                     "p50_ms": round(spans[len(spans) // 2], 2) if spans else 0,
                     "max_ms": round(spans[-1], 2) if spans else 0}
    calls = [e for e in events if e[0] == "push_finish_call"]
    if calls:
        out["push_finish"] |= {"calls": len(calls),
                               "jobs_max": max(c[3]["jobs"] for c in calls),
                               "sends_max": max(c[3]["sends"] for c in calls),
                               "jobs": sum(c[3]["jobs"] for c in calls),
                               # From the first write to the last, s.
                               "worked_s": round((calls[-1][2] - calls[0][1]) / 1e9, 2)}
    # The loop's stalls (the probe's lag task), in all: ms.
    out["loop_lag"]["sum_ms"] = round(sum(e[2] - e[1] for e in events
                                          if e[0] == "loop_lag") / 1e6, 1)
    out["commits_over_20ms"] = sum(
        1 for e in events if e[0] in ("commit", "checkpoint")
        and e[2] - e[1] - e[3]["runq"] > 20_000_000)
    return out


def _chat_load(src: str, probe: Path, args: argparse.Namespace, *more: str) -> dict[str, Any]:
    """``chat_load.py --mode latency --tail`` with ``src`` as the server's code."""
    env = {**os.environ}
    env.pop("PYTHONPATH", None)
    if src:
        env["PYTHONPATH"] = src
    done = subprocess.run(
        [sys.executable, str(BENCH / "chat_load.py"), "--mode", "latency", "--rate",
         str(args.rate), "--duration", str(args.duration), "--warmup", str(args.warmup),
         "--tail", str(probe), *more], env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        sys.exit(f"chat_load failed: {done.stderr[-2000:]}")
    load: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    if args.save:
        with open(args.save, "ab") as out:
            out.write(orjson.dumps({"side": src, **load}) + b"\n")
    return load


def _plain(side: str, src: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """No backlog (``--plain``): the checkpoints' counts at 500 msg/s, as
    perf-fts4 read them: the writer's fallbacks (``ckpt_writer``), the
    thread's checkpoints, the commits' own p99 and those over 20 ms."""
    probe = tmp / "probe.jsonl"
    load = _chat_load(src, probe, args)
    tail = load.get("tail", {})
    spans = tail.get("intervals", {})
    figures = _probe_figures(probe)
    return {"side": side, "ok": load["ok"], "latency_ms": load["latency_ms"],
            "commit_own_p99_ms": tail.get("commit_own_ms", {}).get("p99_ms"),
            "commits_over_20ms": figures["commits_over_20ms"],
            **{kind: {k: spans.get(kind, {}).get(k) for k in ("n", "p50_ms", "p99_ms")}
               for kind in ("ckpt_writer", "ckpt_thread")},
            "slowest_1pct_share": {k: v[0] for k, v in tail.get("causes_pct", {}).items()
                                   if "checkpoint" in k or "slow commit" in k},
            "server_us_per_msg": load["server_us_per_msg"],
            "other_cpu_pct": load["other_cpu_pct"]}


def one_run(side: str, src: str, template: Path, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="perf-p99-") as tmp:
        data = Path(tmp) / "data"
        if args.plain:
            return _plain(side, src, Path(tmp), args)
        shutil.copytree(template, data)
        # The backlog comes due at once, inside the measured window (the
        # server's start, the logins and the warm-up take ~4 s).
        conn = sqlite3.connect(data / "tidings.db")
        with conn:
            conn.execute("UPDATE messages SET created_at = ? WHERE push_options IS NOT NULL",
                         (int(time.time() * 1000 + args.due_in * 1000),))
        conn.close()
        probe = Path(tmp) / "probe.jsonl"
        load = _chat_load(src, probe, args, "--set", f"data_dir={data}",
                          "--set", "push_max_attempts=1")
        if args.keep_probe:  # the probe's events, for a closer look
            shutil.copy(probe, Path(args.keep_probe) / f"{side}-{time.time():.0f}.jsonl")
        tail = load.get("tail", {})
        own = tail.get("commit_own_ms", {})
        return {"side": side, "ok": load["ok"], "latency_ms": load["latency_ms"],
                "ack_latency_ms": load["ack_latency_ms"],
                "commit_own_p99_ms": own.get("p99_ms"),
                "causes_pct_push": {k: v for k, v in tail.get("causes_pct", {}).items()
                                    if "push" in k or "loop" in k},
                **_probe_figures(probe), "backlog_left": _backlog(data / "tidings.db"),
                # The backlog's writes in the measured window, of all (all: it
                # was worked within the window).
                "push_finish_in_window": tail.get("intervals", {}).get(
                    "push_finish_call", {}).get("n"),
                "server_us_per_msg": load["server_us_per_msg"],
                "other_cpu_pct": load["other_cpu_pct"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="", help="an old src/ to alternate with this one")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--due-in", type=float, default=7.0,
                        help="seconds from the server's start to the backlog's due time")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--template", default="/tmp/perf-p99-template",
                        help="the backlog's data folder (made when missing)")
    parser.add_argument("--plain", action="store_true",
                        help="no backlog: the checkpoints' counts at --rate (perf-fts4's)")
    parser.add_argument("--save", default="", help="append chat_load's whole JSON lines here")
    parser.add_argument("--keep-probe", default="", help="copy each run's probe file here")
    parser.add_argument("--src", metavar="NAME=PATH", action="append", default=[],
                        help="another extracted src/ to alternate (a variant); repeatable")
    parser.add_argument("--sides", default="new,old",
                        help="which sides, in the first round's order")
    args = parser.parse_args()
    template = Path(args.template)
    if not args.plain and not (template / "tidings.db").exists():
        template.mkdir(parents=True, exist_ok=True)
        asyncio.run(_make(template, args.users, args.per_user))
        print(json.dumps({"template": str(template), "backlog": _backlog(
            template / "tidings.db")}), flush=True)
    sources = {"new": "", "old": args.old} | dict(v.split("=", 1) for v in args.src)
    sides = [(s, sources[s]) for s in args.sides.split(",") if s == "new" or sources[s]]
    for round_ in range(args.rounds):
        for side, src in sides if round_ % 2 == 0 else sides[::-1]:
            print(orjson.dumps({"round": round_, **one_run(side, src, template, args)}).decode(),
                  flush=True)


if __name__ == "__main__":
    main()
