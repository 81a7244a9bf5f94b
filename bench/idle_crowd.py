"""A crowd of idle connections to one server process (issue 19: 100,000 at
no more than 12 KiB each): ``login_storm.py --mode crowd`` runs it.

One process cannot hold both ends of 100,000 loopback connections: each end
is a file descriptor, and a source address has ~28,000 ephemeral ports
towards one server port (``net.ipv4.ip_local_port_range``). So the crowd is
made by ``--loaders`` child processes, each with its own file limit and its
own source address (127.0.0.2, 127.0.0.3, ...), each client logging in,
syncing (``limit: 0``) and then idle, answering the server's pings. The
parent watches the server: its RSS as the crowd grows, the login rate while
it fills and the server's CPU per login.

This file is also the loader (``python idle_crowd.py loader ...``): it
prints ``UP n`` as it connects, ``READY n failures first-failure`` at the
end, and disconnects everyone when its stdin closes.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# picows reads into a 16 KiB buffer per connection by default; an idle
# client's frames are small (the load generator's memory is not measured,
# but 100,000 x 16 KiB would not fit several loaders on a small machine).
READ_BUFFER = 1024


async def crowd(target: Any, users: int, loaders: int, in_flight: int, process: Any,
                fill_timeout: float, idle_s: float) -> dict[str, Any]:
    """Fill the server with ``users`` idle connections; the figures."""
    loaders = max(1, min(loaders, users))
    per = math.ceil(users / loaders)
    await asyncio.sleep(1)
    rss0, cpu0, t0 = _rss(process), _cpu(process), time.perf_counter()
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "idle_crowd.py"), "loader", target.base_url,
        str(target.sdkappid), target.key, f"crowd{k}", str(min(per, users - k * per)),
        f"127.0.0.{2 + k}", str(max(1, in_flight // loaders)),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        for k in range(loaders) if users - k * per > 0]
    up = [0] * len(procs)
    ready: list[list[str]] = [[] for _ in procs]
    curve: list[dict[str, float]] = []
    next_mark = [users // 10]

    async def follow(i: int, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := (await proc.stdout.readline()).decode().split():
            up[i] = int(line[1])
            if sum(up) >= next_mark[0] > 0:
                curve.append({"connections": sum(up), "s": round(time.perf_counter() - t0, 1),
                              "rss_mib": round(_rss(process) / 2**20, 1)})
                while sum(up) >= next_mark[0]:
                    next_mark[0] += users // 10
            if line[0] == "READY":
                ready[i] = line[1:]
                return

    try:
        async with asyncio.timeout(fill_timeout):
            await asyncio.gather(*(follow(i, p) for i, p in enumerate(procs)))
    except TimeoutError:
        pass
    fill_s, cpu1 = time.perf_counter() - t0, _cpu(process)
    # Idle: the clients send nothing, so after ``heartbeat_interval`` (25 s)
    # of silence the server pings each; what an idle crowd costs the core.
    await asyncio.sleep(idle_s)
    idle_cpu = _cpu(process) - cpu1
    rss1, connected = _rss(process), sum(up)
    fds = process.num_fds() if process is not None else None
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    await asyncio.gather(*(p.wait() for p in procs))
    failures = sum(int(r[1]) for r in ready if len(r) > 1)
    return {
        "connections": connected, "loaders": len(procs), "failures": failures,
        "first_failure": next((" ".join(r[2:]) for r in ready if len(r) > 2), ""),
        "fill_s": round(fill_s, 1), "logins_per_s": round(connected / fill_s, 1),
        "server_cpu_ms_per_login": round(1000 * (cpu1 - cpu0) / max(connected, 1), 3),
        "rss_before_mib": round(rss0 / 2**20, 1), "rss_after_mib": round(rss1 / 2**20, 1),
        "kib_per_connection": round((rss1 - rss0) / 1024 / max(connected, 1), 2),
        "idle_s": idle_s, "idle_server_cpu_pct": round(100 * idle_cpu / idle_s, 1),
        "server_fds": fds, "curve": curve}


def _rss(process: Any) -> int:
    return int(process.memory_info().rss) if process is not None else 0


def _cpu(process: Any) -> float:
    if process is None:
        return 0.0
    t = process.cpu_times()
    return float(t.user + t.system)


def loader(url: str, sdkappid: int, key: str, prefix: str, count: int, source: str,
           in_flight: int) -> None:
    import uvloop
    from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]
    from ws_client import Client, connect, disconnect_all

    async def run() -> None:
        signer = TLSSigAPIv2(sdkappid, key)
        gate = asyncio.Semaphore(in_flight)
        clients: list[Client] = []
        failed: list[str] = []
        every = max(50, count // 40)  # the parent's curve needs ~10 points

        async def one(i: int) -> None:
            async with gate:
                try:
                    clients.append(await connect(
                        url, sdkappid, signer, lambda: Client(f"{prefix}-{i}"),
                        local_addr=(source, 0), read_buffer_init_size=READ_BUFFER))
                except Exception as exc:  # a refusal is a figure, not a crash
                    failed.append(f"{type(exc).__name__}: {exc}"[:200])
                    return
                if len(clients) % every == 0:
                    print("UP", len(clients), flush=True)

        await asyncio.gather(*(one(i) for i in range(count)))
        first = failed[0].replace("\n", " ") if failed else ""
        print("READY", len(clients), len(failed), first, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        disconnect_all(clients)

    uvloop.run(run())


if __name__ == "__main__" and sys.argv[1:2] == ["loader"]:
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    url, sdkappid, key, prefix, count, source, in_flight = sys.argv[2:9]
    loader(url, int(sdkappid), key, prefix, int(count), source, int(in_flight))
