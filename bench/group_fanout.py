"""Group fan-out: how long a message to a big group takes to reach every
connected member.

Starts its own ``tidings serve`` (as bench/chat_load.py does: fresh data dir,
server pinned to CPU 0, this process to CPU 1, loopback only), makes a
Community group of ``--members`` (10,000) members, connects ``--online``
(2,000) of them over real WebSockets (picows), each logged in and synced, and
has the owner send ``--messages`` (10) messages one after the other. For each
message it takes the time from just before the send to the moment the last of
the online members got its ``message`` event; it prints one JSON line with
p50 and max of that figure (and of every member's own delivery time).

    python bench/group_fanout.py                      # 10,000 members, 2,000 online
    python bench/group_fanout.py --members 100000 --online 2000
    python bench/group_fanout.py --database-url postgresql+asyncpg://...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
import time
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]
import uvloop
from chat_load import CLIENT_CPU, SERVER_CPU, Target, own_server, pct
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]

INVITE_BATCH = 500


class Wait:
    """The message being timed: set once ``count`` members have ``seq``."""

    seq = 0
    count = 0
    done: asyncio.Event


WAIT = Wait()


class Member(WSListener):
    """One connected member: answers pings, resolves requests, and notes
    when each group message arrives."""

    def __init__(self, user: str, arrived: dict[int, list[int]]) -> None:
        self.user = user
        self.arrived = arrived  # seq -> arrival times (ns) over all members
        self.transport: WSTransport | None = None
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.count = 0
        self.errors: list[str] = []

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    async def request(self, op: str, data: dict[str, Any], within: float = 60) -> Any:
        assert self.transport is not None
        self.count += 1
        req_id = f"{op}-{self.count}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[req_id] = future
        self.transport.send(WSMsgType.TEXT, orjson.dumps({"op": op, "id": req_id, "data": data}))
        reply = await asyncio.wait_for(future, within)
        if not reply.get("ok"):
            raise RuntimeError(f"{self.user}: {op} failed: {reply}")
        return reply["data"]

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        at = time.perf_counter_ns()
        if frame.msg_type != WSMsgType.TEXT:
            if frame.msg_type == WSMsgType.CLOSE:
                self.errors.append(f"closed: {frame.get_close_code()}")
            return
        doc = orjson.loads(frame.get_payload_as_memoryview())
        event = doc.get("event")
        if event == "message":
            seq = doc["data"]["seq"]
            times = self.arrived.setdefault(seq, [])
            times.append(at)
            if WAIT.seq == seq and len(times) >= WAIT.count:
                WAIT.done.set()
        elif event == "ping":
            transport.send(WSMsgType.TEXT, b'{"op":"pong"}')
        elif event is None:
            future = self.waiting.pop(doc.get("re"), None)
            if future is not None and not future.done():
                future.set_result(doc)


async def connect(target: Target, user: str, arrived: dict[int, list[int]],
                  signer: Any) -> Member:
    ws_url = target.base_url.replace("http", "ws", 1) + "/v1/ws"
    _, member = await ws_connect(lambda: Member(user, arrived), ws_url,
                                 max_frame_size=1 << 22)
    await member.request("login", {"sdkappid": target.sdkappid, "user_id": user,
                                   "usersig": signer.gen_sig(user, 86400),
                                   "device": {"platform": "bench"}})
    await member.request("sync", {"known": {}, "limit": 0})
    return member


async def bench(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    signer = TLSSigAPIv2(target.sdkappid, target.key)
    arrived: dict[int, list[int]] = {}
    owner = await connect(target, "owner", arrived, signer)
    users = [f"m{i:06d}" for i in range(args.members - 1)]
    group = "fanout"
    t0 = time.perf_counter()
    await owner.request("group_create", {"type": "Community", "group_id": group,
                                         "name": "Fan-out bench"})
    for i in range(0, len(users), INVITE_BATCH):
        await owner.request("group_invite", {"group_id": group,
                                             "user_ids": users[i:i + INVITE_BATCH]})
    setup_s = time.perf_counter() - t0
    online: list[Member] = []
    t0 = time.perf_counter()
    for i in range(0, args.online, 100):
        online += await asyncio.gather(*(connect(target, u, arrived, signer)
                                         for u in users[i:min(i + 100, args.online)]))
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(0.5)
    server = psutil.Process(target.pid) if target.pid else None
    s_cpu0 = sum(server.cpu_times()[:2]) if server else 0.0
    last_ms: list[int] = []   # per message: send -> the last online member has it
    each_ms: list[int] = []   # every member's own delivery time
    incomplete = 0
    # The group's next seq: one entry per invite call and the creation.
    next_seq = 1 + (len(users) + INVITE_BATCH - 1) // INVITE_BATCH + 1
    for n in range(args.messages):
        WAIT.seq, WAIT.count, WAIT.done = next_seq + n, len(online), asyncio.Event()
        sent_at = time.perf_counter_ns()
        ack = await owner.request("send", {
            "conversation_id": f"group_{group}", "client_msg_id": f"fanout-{n}",
            "elements": [{"type": "text", "text": f"message {n} to everyone"}]})
        seq = int(ack["seq"])
        if seq != WAIT.seq:
            raise RuntimeError(f"expected seq {WAIT.seq}, the ack says {seq}")
        if len(arrived.get(seq, ())) < len(online):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(WAIT.done.wait(), args.timeout)
        times = arrived.get(seq, [])
        if len(times) < len(online):
            incomplete += 1
        if times:
            last_ms.append(max(times) - sent_at)
            each_ms += [t - sent_at for t in times]
        await asyncio.sleep(args.pause)
    s_cpu1 = sum(server.cpu_times()[:2]) if server else 0.0
    errors = [e for m in (*online, owner) for e in m.errors]
    for m in (*online, owner):
        if m.transport is not None:
            m.transport.disconnect()
    return {
        "members": args.members, "online": len(online), "messages": args.messages,
        "database": target.database, "server_commit": target.commit,
        "setup_s": round(setup_s, 2), "connect_s": round(connect_s, 2),
        "last_member_ms": {"p50": pct(last_ms, 50), "max": pct(last_ms, 100)},
        "each_member_ms": {"p50": pct(each_ms, 50), "p99": pct(each_ms, 99),
                           "max": pct(each_ms, 100)},
        "server_cpu_ms_per_message": round((s_cpu1 - s_cpu0) * 1000 / args.messages, 1),
        "incomplete": incomplete, "errors": len(errors), "first_error": errors[0] if errors
        else "", "ok": incomplete == 0 and not errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--online", type=int, default=2_000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between messages")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for a message to reach everyone")
    parser.add_argument("--database-url", default="",
                        help="TIDINGS_DATABASE_URL for our server (default: SQLite)")
    parser.add_argument("--show-server-log", action="store_true")
    parser.add_argument("--push", choices=["on", "off"], default="on",
                        help="off: the server writes no push jobs (to measure what push costs)")
    args = parser.parse_args()
    args.callback = "none"
    if not 1 <= args.online < args.members <= 100_000:
        parser.error("need 1 <= --online < --members <= 100,000")
    if not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        sys.exit(f"need CPUs {SERVER_CPU} and {CLIENT_CPU} (server on one, clients on the other)")
    # Two sockets per member (ours and the server's), in two processes.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.online + 1000)), hard))
    with own_server(args) as target:
        os.sched_setaffinity(0, {CLIENT_CPU})
        result = uvloop.run(bench(target, args))
    print(orjson.dumps(result).decode(), flush=True)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
