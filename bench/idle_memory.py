"""What an idle connection holds, by where it was allocated (issue 19's
12 KiB per idle connection).

``login_storm.py --mode idle`` gives the server process's RSS per connection;
this says what it is made of. It starts the real server in this process
(tests/support.py's ``InProcessServer``: uvicorn in a thread, the settings of
``tidings serve``), connects ``--users`` clients from a child process (the
benches' picows client: login, first sync, then idle), and compares two
tracemalloc snapshots of this process taken before and after, per file and
per line. What Python's allocator does not see (uvloop's and libuv's own
structures, the allocator's overhead) is the difference from the RSS figure.

    python bench/idle_memory.py --users 500
    python bench/idle_memory.py --users 500 --env TIDINGS_WS_LEAN=0

Prints the table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def clients(args: argparse.Namespace) -> None:
    """The child: ``--users`` clients log in, sync and wait for a line on stdin."""
    from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]
    from ws_client import Client, connect, disconnect_all

    async def run() -> None:
        signer = TLSSigAPIv2(args.sdkappid, args.key)
        gate = asyncio.Semaphore(50)
        made: list[Client] = []

        async def one(i: int) -> None:
            async with gate:
                made.append(await connect(args.url, args.sdkappid, signer,
                                          lambda: Client(f"idle-{i}")))

        await asyncio.gather(*(one(i) for i in range(args.users)))
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        disconnect_all(made)

    asyncio.run(run())


def short(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def measure(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE.parent))
    from tests.support import InProcessServer

    env = dict(item.split("=", 1) for item in args.env)
    env.update({"TIDINGS_MAX_CONNECTIONS": "200000",
                "TIDINGS_MAX_CONNECTIONS_PER_ADDRESS": "200000"})
    server = InProcessServer(Path(tempfile.mkdtemp(prefix="idle-memory-")), "", extra_env=env)
    server.start()
    app = server.create_app()

    def crowd(n: int) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", "--url", server.base_url,
             "--sdkappid", str(app.sdkappid), "--key", app.secret_key, "--users", str(n)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE)
        assert child.stdout is not None and child.stdout.readline().strip() == "READY"
        return child

    def release(child: subprocess.Popen[str]) -> None:
        assert child.stdin is not None
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait()

    try:
        release(crowd(20))  # first use: lazy imports, caches, op handlers' modules
        time.sleep(1)
        tracemalloc.start(1)
        gc.collect()
        before = tracemalloc.take_snapshot()
        child = crowd(args.users)
        time.sleep(2)
        gc.collect()
        after = tracemalloc.take_snapshot()
        release(child)
    finally:
        server.stop()
    n = args.users
    by_file = after.compare_to(before, "filename")
    total = sum(stat.size_diff for stat in by_file)
    print(f"{total / n / 1024:.2f} KiB per connection (Python's allocator), {n} connections")
    for stat in by_file[:args.top]:
        print(f"{stat.size_diff / n:8.0f} B {stat.count_diff / n:6.1f} blocks  "
              f"{short(stat.traceback[0].filename)}")
    print("-- by line")
    for stat in after.compare_to(before, "lineno")[:args.top]:
        frame = stat.traceback[0]
        print(f"{stat.size_diff / n:8.0f} B {stat.count_diff / n:6.1f} blocks  "
              f"{short(frame.filename)}:{frame.lineno}")
    result: dict[str, Any] = {
        "connections": n, "env": env, "traced_kib_per_connection": round(total / n / 1024, 2),
        "by_file_bytes": {short(s.traceback[0].filename): round(s.size_diff / n)
                          for s in by_file[:args.top]}}
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the server (TIDINGS_WS_LEAN=0, ...)")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--sdkappid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        clients(args)
    else:
        measure(args)


if __name__ == "__main__":
    main()
