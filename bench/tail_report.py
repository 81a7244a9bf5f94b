"""Where the slow messages' time went (``chat_load.py --tail``).

The clients keep each measured message's send and receive times; the
server's probe (``tail_probe/sitecustomize.py``) its garbage collections,
writer transactions and timer ticks on the same clock. A message is put
down to the first cause, in the order of ``CAUSES``, whose interval
overlaps its flight (send -> the peer read it). Every cause is also
counted over all messages: a cause the slow ones meet no more often than
the rest is not why they are slow.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

PROBE_DIR = Path(__file__).resolve().parent / "tail_probe"
SLOW_COMMIT_NS = 1_500_000  # a synced transaction longer than this is "a slow commit"
SLOW_TICK_NS = 200_000
LONGEST_NS = 100_000_000  # no probed interval is longer (the overlap search's reach)

GREW = "commit_grew"  # a commit whose ``grew`` phase is not 0 (the kind as the report sees it)

# (name, the probe's kinds, the shortest interval that counts)
CAUSES: list[tuple[str, tuple[str, ...], int]] = [
    ("wal checkpoint in a commit", ("checkpoint",), 0),
    ("wal checkpoint by the writer, after", ("ckpt_writer",), 0),
    ("the writer copies the log's rest, after", ("ckpt_chase",), 0),
    ("fts step (later work)", ("later",), 0),
    ("push step's write (later work)", ("push_finish",), 0),
    ("push sends' outcomes (later work)", ("push_record",), 0),
    ("gc gen 2", ("gc2",), 0),
    ("gc gen 1", ("gc1",), 0),
    ("gc gen 0", ("gc0",), 0),
    # The loop's own stalls (the probe's lag task: more than 2 ms late):
    # whatever held it, the push worker's deciding or a reader thread's
    # Python holding the GIL (a collection is named above).
    ("the loop stalled (>2 ms late)", ("loop_lag",), 0),
    # A push step's reads, on a reader thread that shares the GIL with the loop.
    ("push step's reads (reader thread)", ("push_read_due", "push_read_reach"), 0),
    # Before the slow commits: its writes and fsync beside a commit's own
    # fsync may be what made that one slow (its share of all messages says
    # how often a message meets one anyway).
    ("wal checkpoint on its thread", ("ckpt_thread",), 0),
    # A slow commit that made the log longer (its fdatasync also
    # journaled the file's size), then the other slow ones.
    ("slow commit, the log grew (>1.5 ms)", (GREW,), SLOW_COMMIT_NS),
    ("slow commit (>1.5 ms)", ("commit", "checkpoint"), SLOW_COMMIT_NS),
    ("timer tick (>0.2 ms)", ("tick",), SLOW_TICK_NS),
]


def server_env(path: Path) -> dict[str, str]:
    """The server's environment for the probe to record into ``path``."""
    python_path = os.environ.get("PYTHONPATH", "")
    return {"BENCH_TAIL_PROBE": str(path),
            "PYTHONPATH": os.pathsep.join(p for p in (str(PROBE_DIR), python_path) if p)}


def run_delay_ns(pid: int) -> int:
    """The time ``pid``'s threads waited for a CPU while runnable (schedstat)."""
    total = 0
    with contextlib.suppress(FileNotFoundError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
    return total


def _load(path: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    lines = path.read_text().splitlines()
    head = json.loads(lines[0]) if lines else {}
    return head, [tuple(json.loads(line)) for line in lines[1:]]


def _quantiles(values: list[int]) -> dict[str, float]:
    values = sorted(values)
    return {"n": len(values),
            "p50_ms": round(values[len(values) // 2] / 1e6, 3),
            "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))] / 1e6, 3),
            "max_ms": round(values[-1] / 1e6, 3)}


def _phases(txns: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Mean and p99 of each phase of these transactions (see the probe)."""
    out: dict[str, Any] = {"n": len(txns)}
    for phase in ("hop_in", "cpu", "runq", "blocked", "hop_out"):
        values = sorted(e[3].get(phase, 0) for e in txns) or [0]
        out[phase] = [round(sum(values) / len(values) / 1e6, 3),
                      round(values[min(len(values) - 1, int(len(values) * 0.99))] / 1e6, 3)]
    return out


def _own(txns: Any) -> dict[str, float]:
    return _quantiles([e[2] - e[1] - e[3]["runq"] for e in txns] or [0])


def report(samples: list[tuple[int, int]], path: Path) -> dict[str, Any]:
    """``samples``: (sent_ns, received_ns) of each measured message."""
    head, events = _load(path)
    if not samples:
        return {"probe": head}
    first, last = min(s for s, _ in samples), max(r for _, r in samples)
    events = sorted((e for e in events if e[2] >= first and e[1] <= last), key=lambda e: e[1])
    starts = [e[1] for e in events]

    def overlapping(sent: int, received: int) -> list[tuple[Any, ...]]:
        i = bisect.bisect_left(starts, received)
        found = []
        while i > 0 and starts[i - 1] > sent - LONGEST_NS:
            i -= 1
            if events[i][2] > sent:
                found.append(events[i])
        return found

    def cause(sent: int, received: int) -> str:
        found: set[str] = set()
        for kind, start, end, *phases in overlapping(sent, received):
            grew = bool(phases and phases[0].get("grew")) and kind == "commit"
            for name, kinds, shortest in CAUSES:
                if (kind in kinds or (grew and GREW in kinds)) and end - start >= shortest:
                    found.add(name)
        return next((name for name, _, _ in CAUSES if name in found), "none of these")

    flights = sorted(((r - s, cause(s, r)) for s, r in samples), reverse=True)
    p99 = flights[len(flights) // 100][0]
    # The writer's transactions the slowest 1 % overlapped, by phase, against all.
    slow_txns = {id(e): e for s, r in samples if r - s >= p99
                 for e in overlapping(s, r) if len(e) > 3 and e[0] in ("commit", "checkpoint")}
    all_txns = [e for e in events if len(e) > 3 and e[0] in ("commit", "checkpoint")]
    tail = [c for latency, c in flights if latency >= p99]
    over_3ms = [c for latency, c in flights if latency >= 3_000_000]
    everyone = Counter(c for _, c in flights)
    by_kind: dict[str, list[int]] = {}
    for kind, start, end, *_ in events:
        by_kind.setdefault(kind, []).append(end - start)
    return {
        "probe": head,
        "messages": len(flights),
        "p99_ms": round(p99 / 1e6, 3),
        # cause -> [share of the slowest 1 %, of those over 3 ms, of all], %
        "causes_pct": {name: [round(100 * Counter(tail)[name] / len(tail), 1),
                              round(100 * Counter(over_3ms)[name] / max(1, len(over_3ms)), 1),
                              round(100 * everyone[name] / len(flights), 1)]
                       for name in [*(c[0] for c in CAUSES), "none of these"]},
        "over_3ms": len(over_3ms),
        "commit_phases_ms": {"tail": _phases(list(slow_txns.values())),
                             "all": _phases(all_txns)},
        # A commit's own time: its wall time less its wait for the core
        # (what other processes on a loaded machine add).
        "commit_own_ms": _quantiles([e[2] - e[1] - e[3]["runq"] for e in all_txns] or [0])
        | {"over_2ms": sum(e[2] - e[1] - e[3]["runq"] > 2_000_000 for e in all_txns)},
        # The same for the commits that made the log longer, and the others.
        "commit_own_ms_grew": _own(t for t in all_txns if t[3].get("grew")),
        "commit_own_ms_in_place": _own(t for t in all_txns if not t[3].get("grew")),
        "intervals": {kind: _quantiles(d) | {"per_s": round(len(d) * 1e9 / (last - first), 1)}
                      for kind, d in sorted(by_kind.items())},
    }
