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
import time
from typing import Any

import psutil  # type: ignore[import-untyped]
from chat_load import Target, pct, run_on_own_server
from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]
from ws_client import Client, connect, disconnect_all

INVITE_BATCH = 500


class Wait:
    """The message being timed: set once ``count`` members have ``seq``."""

    seq = 0
    count = 0
    done: asyncio.Event


WAIT = Wait()


class Member(Client):
    """One connected member: notes when each group message arrives."""

    def __init__(self, user: str, arrived: dict[int, list[int]]) -> None:
        super().__init__(user)
        self.arrived = arrived  # seq -> arrival times (ns) over all members

    def on_event(self, event: str, doc: dict[str, Any], at: int) -> None:
        if event == "message":
            seq = doc["data"]["seq"]
            times = self.arrived.setdefault(seq, [])
            times.append(at)
            if WAIT.seq == seq and len(times) >= WAIT.count:
                WAIT.done.set()


async def member(target: Target, user: str, arrived: dict[int, list[int]],
                 signer: Any) -> Member:
    return await connect(target.base_url, target.sdkappid, signer,
                         lambda: Member(user, arrived))


async def bench(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    signer = TLSSigAPIv2(target.sdkappid, target.key)
    arrived: dict[int, list[int]] = {}
    owner = await member(target, "owner", arrived, signer)
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
        online += await asyncio.gather(*(member(target, u, arrived, signer)
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
    errors = disconnect_all([*online, owner])
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
    run_on_own_server(args, bench, sockets=args.online)


if __name__ == "__main__":
    main()
