"""What a user's common reads cost the server: CPU per op through a real
socket (issue 19, branch perf-reads).

Starts its own ``tidings serve`` on CPU 0 (as bench/chat_load.py does; the
client on CPU 1), gives the user ``reader`` ``--c2c`` one-to-one
conversations with ``--depth`` messages each, a group of 20 members with
``--depth`` messages, and 20 friends (through the admin API), then runs
each op ``--rounds`` times, one at a time over one WebSocket (or HTTP for
the admin read), and prints the server's CPU per op (psutil's user+system
of the whole process over the op's rounds, divided by the rounds):

- ``history``: the newest 20 messages of a one-to-one conversation;
- ``conversations``: the conversation list (last messages included);
  ``conversations_20``: its first 20;
- ``history_around``: 20 messages around seq 3 of a one-to-one conversation;
- ``group_info``, ``group_members``, ``group_list``, ``profile_get`` (three
  users), ``friends``, ``search`` (a word of every message);
- ``sync_gap``: ``sync`` with every conversation known but 3 messages behind;
- ``admin_history``: ``GET /v1/admin/conversations/{user}/{conversation}/messages``.

For old against new, run it alternately with the old code on PYTHONPATH:

    python bench/common_reads.py --rounds 300
    PYTHONPATH=/tmp/perf-reads-old/src python bench/common_reads.py --rounds 300
    python bench/common_reads.py --postgres       # a cluster of its own on core 0
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
import websockets
from chat_load import Target, run_on_own_server
from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]

READER = "reader"


def seed(target: Target, args: argparse.Namespace) -> dict[str, int]:
    """The reader's conversations, group and friends; the last seqs."""
    admin = TLSSigAPIv2(target.sdkappid, target.key).gen_sig("administrator", 86400)
    peers = [f"peer{i:04d}" for i in range(max(args.c2c, 20))]
    last: dict[str, int] = {}
    with httpx.Client(base_url=target.base_url, timeout=60,
                      headers={"Authorization": f"Bearer {admin}"}) as http:
        for i in range(0, len(peers) + 1, 100):
            http.post("/v1/admin/accounts/import", json={"accounts": [
                {"user_id": u, "nickname": u} for u in [READER, *peers][i:i + 100]]}
            ).raise_for_status()
        for n in range(args.depth):
            for i in range(0, args.c2c, 500):  # the batch's most recipients
                done = http.post("/v1/admin/messages/batch", json={
                    "from": READER, "to": peers[i:min(i + 500, args.c2c)],
                    "client_msg_id": f"b{n}",
                    "elements": [{"type": "text", "text": f"hello message {n}"}]})
                done.raise_for_status()
                for r in done.json()["results"]:
                    last[r["ack"]["conversation_id"]] = r["ack"]["seq"]
        http.post("/v1/admin/groups", json={
            "type": "Work", "group_id": "g1", "owner": READER,
            "members": peers[:20]}).raise_for_status()
        for n in range(args.depth):
            sent = http.post("/v1/admin/messages", json={
                "from": READER, "conversation_id": "group_g1", "client_msg_id": f"g{n}",
                "elements": [{"type": "text", "text": f"hello group {n}"}]})
            sent.raise_for_status()
            last["group_g1"] = sent.json()["seq"]
        for peer in peers[:20]:
            http.post(f"/v1/admin/users/{READER}/friends",
                      json={"friend_id": peer}).raise_for_status()
    return last


def ops(last: dict[str, int]) -> dict[str, tuple[str, dict[str, Any]]]:
    behind = {c: max(0, s - 3) for c, s in last.items()}
    return {
        "history": ("history", {"conversation_id": "c2c_peer0000", "limit": 20}),
        "conversations": ("conversations", {}),
        "conversations_20": ("conversations", {"limit": 20}),
        "history_around": ("history", {"conversation_id": "c2c_peer0000", "around_seq": 3,
                                       "limit": 20}),
        "group_info": ("group_info", {"group_id": "g1"}),
        "group_members": ("group_members", {"group_id": "g1"}),
        "group_list": ("group_list", {}),
        "profile_get": ("profile_get", {"user_ids": ["peer0000", "peer0001", "peer0002"]}),
        "friends": ("friends", {}),
        "search": ("search", {"q": "hello", "limit": 20}),
        "sync_gap": ("sync", {"known": behind}),
    }


def cpu(server: psutil.Process) -> float:
    t = server.cpu_times()
    return float(t.user + t.system)


async def measure(target: Target, last: dict[str, int], rounds: int,
                  server: psutil.Process, only: set[str]) -> dict[str, Any]:
    sig = TLSSigAPIv2(target.sdkappid, target.key).gen_sig(READER, 86400)
    url = target.base_url.replace("http://", "ws://") + "/v1/ws"
    found: dict[str, Any] = {}
    n = 1
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(orjson.dumps({"op": "login", "id": n, "data": {
            "sdkappid": target.sdkappid, "user_id": READER, "usersig": sig}}))
        orjson.loads(await ws.recv())
        for name, (op, data) in ops(last).items():
            if only and name not in only:
                continue
            c0, t0 = cpu(server), time.perf_counter()
            for _ in range(rounds):
                n += 1
                await ws.send(orjson.dumps({"op": op, "id": n, "data": data}))
                while True:
                    doc = orjson.loads(await ws.recv())
                    if doc.get("re") == n:
                        break
                if not doc.get("ok"):
                    raise RuntimeError(f"{name}: {doc}")
            found[name] = {"cpu_us": round((cpu(server) - c0) * 1e6 / rounds),
                           "wall_us": round((time.perf_counter() - t0) * 1e6 / rounds)}
    if only and "admin_history" not in only:
        return found
    admin = TLSSigAPIv2(target.sdkappid, target.key).gen_sig("administrator", 86400)
    async with httpx.AsyncClient(base_url=target.base_url, timeout=60,
                                 headers={"Authorization": f"Bearer {admin}"}) as http:
        path = f"/v1/admin/conversations/{READER}/c2c_peer0000/messages"
        (await http.get(path, params={"limit": 20})).raise_for_status()
        c0, t0 = cpu(server), time.perf_counter()
        for _ in range(rounds):
            (await http.get(path, params={"limit": 20})).raise_for_status()
        found["admin_history"] = {"cpu_us": round((cpu(server) - c0) * 1e6 / rounds),
                                  "wall_us": round((time.perf_counter() - t0) * 1e6 / rounds)}
    return found


async def bench(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    last = await asyncio.to_thread(seed, target, args)
    server = psutil.Process(target.pid)
    others0 = psutil.cpu_times()
    mine0 = cpu(server) + cpu(psutil.Process())
    t0 = time.perf_counter()
    only = set(args.ops.split(",")) if args.ops else set()
    await measure(target, last, max(1, args.rounds // 10), server, only)  # warm-up
    print(f"server pid {target.pid}", file=sys.stderr, flush=True)  # for py-spy
    found = await measure(target, last, args.rounds, server, only)
    elapsed = time.perf_counter() - t0
    busy = psutil.cpu_times()
    total = sum(busy[:3]) - sum(others0[:3])  # user, nice, system of the machine
    mine = cpu(server) + cpu(psutil.Process()) - mine0
    return {"ok": True, "database": target.database, "server_commit": target.commit,
            "rounds": args.rounds, "ops": found,
            "other_cpu_pct": round(max(0.0, total - mine) * 100 / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--c2c", type=int, default=50)
    parser.add_argument("--depth", type=int, default=30, help="messages per conversation")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--database-url", default="",
                        help="TIDINGS_DATABASE_URL for our server (default: SQLite)")
    parser.add_argument("--ops", default="", help="only these ops (a comma-separated list)")
    parser.add_argument("--show-server-log", action="store_true")
    parser.add_argument("--postgres", action="store_true",
                        help="on a PostgreSQL cluster of its own, pinned to core 0 with the"
                             " server (bench/xmpp_servers.py)")
    args = parser.parse_args()
    args.callback = "none"
    if not args.postgres:
        run_on_own_server(args, bench, sockets=10)
    import xmpp_servers

    with xmpp_servers.postgres() as pg:
        args.database_url = pg.url
        run_on_own_server(args, bench, sockets=10)


if __name__ == "__main__":
    main()
