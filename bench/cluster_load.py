"""Chat load on a cluster: 1 and 2 ``tidings serve`` processes side by side.

It starts a Redis (``redis-server`` on a free loopback port) and two Tidings
processes on one PostgreSQL database (``--database-url``, required: a
cluster shares one) and that Redis, makes an app, and runs
``bench/chat_load.py`` against them in rounds, the configurations
interleaved so that a noisy machine hits all of them alike:

- ``1 process``: every client on the first process (the second idles);
- ``2 split``: the two users of each pair on the two processes, so every
  message is routed through Redis to its peer's process;
- ``2 together``: both users of a pair on one process, pairs alternating:
  the cluster's cost without the crossing. ``split`` against ``together``
  is the routing cost; ``2 split`` against ``1 process`` the ratio.

No CPU is pinned here (the servers take both CPUs; chat_load's clients keep
to CPU 1), so the clients' own CPU competes with the servers: read the
ratio, not the absolute figures, and the ``other_cpu_pct`` of each line.

    python bench/cluster_load.py --database-url postgresql+asyncpg://... --rounds 3

Prints one JSON line per run (chat_load's, with ``config``), then a summary
line with the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chat_load import HOST, free_port, stop_server  # bench/ is on the path (run as a script)

HERE = Path(__file__).resolve().parent


def wait_for(what: str, ready: Any, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # a loaded 2-core machine starts slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited:\n{log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError):
            if ready():
                return
        time.sleep(0.1)
    sys.exit(f"{what} did not come up:\n{log.read_text(errors='replace')[-2000:]}")


def healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as r:
        return bool(json.loads(r.read()).get("status") == "ok")


def redis_ready(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


@contextlib.contextmanager
def cluster(database_url: str, processes: int) -> Iterator[tuple[dict[str, Any], list[int],
                                                                  list[int]]]:
    """Redis and ``processes`` servers: (the app, their ports, their pids)."""
    redis_bin = shutil.which("redis-server") or "/usr/bin/redis-server"
    with tempfile.TemporaryDirectory(prefix="tidings-cluster-bench-") as tmp:
        root = Path(tmp)
        started: list[subprocess.Popen[bytes]] = []
        try:
            redis_port = free_port()
            with open(root / "redis.log", "wb") as out:
                redis = subprocess.Popen(
                    [redis_bin, "--port", str(redis_port), "--bind", HOST, "--dir", tmp,
                     "--save", "", "--appendonly", "no"], stdout=out, stderr=subprocess.STDOUT)
            started.append(redis)
            wait_for("redis-server", lambda: redis_ready(redis_port), redis, root / "redis.log")
            env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
            env.update({
                "TIDINGS_DATABASE_URL": database_url, "TIDINGS_HOST": HOST,
                "TIDINGS_REDIS_URL": f"redis://{HOST}:{redis_port}/0",
                "TIDINGS_LOG_LEVEL": "warning",
                # The per-connection limiter (100/s by default) would throttle the bench.
                "TIDINGS_RATE_LIMIT_PER_SECOND": "1000000000",
                "TIDINGS_RATE_LIMIT_BURST": "1000000000"})
            ports: list[int] = []
            for i in range(processes):
                port = free_port()
                own = {**env, "TIDINGS_DATA_DIR": str(root / f"node{i}"),
                       "TIDINGS_PORT": str(port)}
                log = root / f"node{i}.log"
                with open(log, "wb") as out:
                    proc = subprocess.Popen([sys.executable, "-m", "tidings", "serve"],
                                            env=own, stdout=out, stderr=subprocess.STDOUT)
                started.append(proc)
                wait_for(f"tidings serve {i}", lambda p=port: healthy(p), proc, log)
                ports.append(port)
            created = subprocess.run(
                [sys.executable, "-m", "tidings", "app", "create", "--name", "ClusterBench"],
                env={**env, "TIDINGS_DATA_DIR": str(root / "node0")}, capture_output=True,
                text=True, timeout=120, check=True)
            yield json.loads(created.stdout), ports, [p.pid for p in started[1:]]
        finally:
            for proc in reversed(started):
                stop_server(proc)


def run(app: dict[str, Any], ports: list[int], pids: list[int], spread: str,
        passed: list[str]) -> dict[str, Any]:
    urls = ",".join(f"http://{HOST}:{p}" for p in ports)
    done = subprocess.run(
        [sys.executable, str(HERE / "chat_load.py"), "--url", urls, "--spread", spread,
         "--sdkappid", str(app["sdkappid"]), "--key", app["secret_key"],
         "--server-pid", ",".join(map(str, pids)), *passed],
        capture_output=True, text=True, timeout=600)
    lines = done.stdout.strip().splitlines()
    if not lines:
        sys.exit(f"chat_load gave nothing:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True,
                        help="a PostgreSQL database (postgresql+asyncpg://...), empty or not")
    parser.add_argument("--rounds", type=int, default=3)
    args, passed = parser.parse_known_args()
    configs = [("1 process", 1, "split"), ("2 split", 2, "split"),
               ("2 together", 2, "together")]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in configs}
    with cluster(args.database_url, 2) as (app, ports, pids):
        for _ in range(args.rounds):
            for name, n, spread in configs:
                result = run(app, ports[:n], pids[:n], spread, passed)
                result["config"] = name
                results[name].append(result)
                print(json.dumps(result), flush=True)

    def median(name: str, key: str) -> float | None:
        values = [r[key] for r in results[name] if r.get(key) is not None]
        return statistics.median(values) if values else None

    summary = {name: {key: median(name, key) for key in (
        "acked_per_s", "server_us_per_msg", "server_cpu_pct", "other_cpu_pct")}
        | {"p50_ms": statistics.median(r["latency_ms"]["p50"] for r in results[name]),
           "ok": all(r["ok"] for r in results[name])}
        for name, _, _ in configs}
    one, split, together = (summary[n]["acked_per_s"] for n, _, _ in configs)
    summary["ratio_2_split_to_1"] = round(split / one, 2) if one and split else None
    summary["ratio_2_together_to_1"] = round(together / one, 2) if one and together else None
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
