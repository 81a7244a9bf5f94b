"""Sync cost: what one ``sync`` round costs the server for a user with many
conversations, the work every reconnect does.

Starts its own ``tidings serve`` (as bench/chat_load.py does), gives the user
``reader`` ``--c2c`` one-to-one conversations and ``--groups`` groups with
``--depth`` messages each (through the admin API), then times ``sync`` over a
real WebSocket in three shapes, ``--rounds`` times each:

- ``current``: the device knows every conversation up to its last seq (the
  common reconnect: nothing new);
- ``behind``: it is ``--behind`` messages behind in every conversation;
- ``fresh``: a new device that knows nothing (the newest 20 of each).

For each it prints the median and p90 wall time of the request and the
server's CPU per sync (the server runs alone on CPU 0).

    python bench/sync_cost.py                           # 200 c2c + 20 groups
    python bench/sync_cost.py --c2c 1000 --groups 50
    python bench/sync_cost.py --database-url postgresql+asyncpg://...
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
import websockets
from chat_load import CLIENT_CPU, SERVER_CPU, Target, own_server
from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]

READER = "reader"


def seed(target: Target, args: argparse.Namespace) -> dict[str, int]:
    """The conversations, each with ``depth`` messages; their last seqs."""
    admin = TLSSigAPIv2(target.sdkappid, target.key).gen_sig("administrator", 86400)
    peers = [f"peer{i:05d}" for i in range(args.c2c)]
    last: dict[str, int] = {}
    with httpx.Client(base_url=target.base_url, timeout=60,
                      headers={"Authorization": f"Bearer {admin}"}) as http:
        for n in range(args.depth):
            for i in range(0, len(peers), 500):
                done = http.post("/v1/admin/messages/batch", json={
                    "from": READER, "to": peers[i:i + 500], "client_msg_id": f"b{n}",
                    "elements": [{"type": "text", "text": f"message {n}"}]})
                done.raise_for_status()
                for r in done.json()["results"]:
                    last[r["ack"]["conversation_id"]] = r["ack"]["seq"]
        for g in range(args.groups):
            group = f"g{g:04d}"
            made = http.post("/v1/admin/groups", json={
                "type": "Work", "group_id": group, "owner": READER,
                "members": peers[:min(len(peers), 20)] or ["someone"]})
            made.raise_for_status()
            for n in range(args.depth):
                sent = http.post("/v1/admin/messages", json={
                    "from": READER, "conversation_id": f"group_{group}",
                    "client_msg_id": f"{group}-{n}",
                    "elements": [{"type": "text", "text": f"group message {n}"}]})
                sent.raise_for_status()
                last[f"group_{group}"] = sent.json()["seq"]
    return last


async def measure(target: Target, known: dict[str, int] | None, rounds: int,
                  server: psutil.Process | None) -> dict[str, Any]:
    sig = TLSSigAPIv2(target.sdkappid, target.key).gen_sig(READER, 86400)
    url = target.base_url.replace("http://", "ws://") + "/v1/ws"
    wall: list[float] = []
    cpu: list[float] = []
    entries = 0
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(orjson.dumps({"op": "login", "id": 1, "data": {
            "sdkappid": target.sdkappid, "user_id": READER, "usersig": sig}}))
        orjson.loads(await ws.recv())
        for n in range(rounds):
            c0 = sum(server.cpu_times()[:2]) if server else 0.0
            t0 = time.perf_counter()
            await ws.send(orjson.dumps({"op": "sync", "id": n + 2,
                                        "data": {"known": known or {}}}))
            while True:
                doc = orjson.loads(await ws.recv())
                if doc.get("re") == n + 2:
                    break
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append(((sum(server.cpu_times()[:2]) if server else 0.0) - c0) * 1000)
            if not doc.get("ok"):
                raise RuntimeError(doc)
            entries = len(doc["data"]["messages"])
    return {"entries": entries,
            "wall_ms": {"p50": round(statistics.median(wall), 2),
                        "p90": round(sorted(wall)[int(len(wall) * 0.9)], 2)},
            "server_cpu_ms": round(statistics.median(cpu), 2)}


async def bench(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    last = await asyncio.to_thread(seed, target, args)
    seed_s = time.perf_counter() - t0
    server = psutil.Process(target.pid) if target.pid else None
    behind = {c: max(0, s - args.behind) for c, s in last.items()}
    return {
        "c2c": args.c2c, "groups": args.groups, "depth": args.depth,
        "database": target.database, "server_commit": target.commit,
        "seed_s": round(seed_s, 1),
        "current": await measure(target, last, args.rounds, server),
        "behind": await measure(target, behind, args.rounds, server),
        "fresh": await measure(target, None, args.rounds, server),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--c2c", type=int, default=200)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--depth", type=int, default=30, help="messages per conversation")
    parser.add_argument("--behind", type=int, default=3,
                        help="messages the 'behind' device misses per conversation")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default="",
                        help="TIDINGS_DATABASE_URL for our server (default: SQLite)")
    parser.add_argument("--show-server-log", action="store_true")
    args = parser.parse_args()
    args.callback = "none"
    if not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        sys.exit(f"need CPUs {SERVER_CPU} and {CLIENT_CPU} (server on one, clients on the other)")
    with own_server(args) as target:
        os.sched_setaffinity(0, {CLIENT_CPU})
        result = asyncio.run(bench(target, args))
    print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main()
