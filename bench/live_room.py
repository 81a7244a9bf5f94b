"""Live room (AVChatRoom) fan-out: how many messages a second one room with
many connected members sustains, and how late they arrive.

Starts its own ``tidings serve`` (as bench/chat_load.py does: fresh data dir,
server pinned to CPU 0, this process to CPU 1, loopback only), creates a Live
group, connects ``--members`` (2,000) members over real WebSockets (picows),
each logged in and joined with ``live_join``, and has one more member send
``--rate`` messages a second (open loop, priority ``--priority``) for
``--duration`` seconds after a ``--warmup``. The room's limit is
``--room-rate`` (the server's default, 40, unless given): over it the server
sheds Low, then Normal messages (94060), never High ones.

It prints one JSON line: messages sent, accepted and shed per second,
deliveries per second over all members (accepted x members when nothing is
lost), the send -> arrival latency (p50, p99, max; sampled on every 20th
member, whose clock is ours), and the server's CPU per accepted message.

    python bench/live_room.py                                # 2,000 members, 40 msg/s
    python bench/live_room.py --rate 200 --room-rate 1000    # find the ceiling
    python bench/live_room.py --rate 100 --priority Low      # watch shedding
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]
from chat_load import Target, pct, run_on_own_server
from picows import WSFrame
from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]
from ws_client import Client, connect, disconnect_all

SAMPLE_EVERY = 20
ROOM = "live-bench"


class Member(Client):
    """One connected member: counts the room's messages sent in the measured
    window (and, when sampled, notes each one's latency)."""

    def __init__(self, user: str, sampled: bool, window: list[bool]) -> None:
        super().__init__(user)
        self.sampled = sampled
        self.window = window  # [measuring]: shared by all members
        self.received = 0
        self.latencies_ns: list[int] = []

    def take(self, frame: WSFrame, at: int) -> bool:
        payload = frame.get_payload_as_bytes()
        if not payload.startswith(b'{"event":"live_message"'):
            return False
        if b'"client_msg_id":"m' in payload:  # sent in the measured window
            self.received += 1
            if self.sampled:
                sent = int(orjson.loads(payload)["data"]["cloud_custom_data"])
                self.latencies_ns.append(at - sent)
        return True


async def join(target: Target, user: str, signer: Any, sampled: bool,
               window: list[bool]) -> Member:
    member = await connect(target.base_url, target.sdkappid, signer,
                           lambda: Member(user, sampled, window))
    await member.request("live_join", {"group_id": ROOM})
    return member


async def bench(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    signer = TLSSigAPIv2(target.sdkappid, target.key)
    window = [False]
    owner = await connect(target.base_url, target.sdkappid, signer,
                          lambda: Member("owner", False, window), sync=False)
    await owner.request("group_create", {"type": "AVChatRoom", "group_id": ROOM,
                                         "name": "Live bench"})
    await owner.request("live_join", {"group_id": ROOM})
    members: list[Member] = []
    t0 = time.perf_counter()
    for i in range(0, args.members, 100):
        members += await asyncio.gather(*(
            join(target, f"m{j:06d}", signer, j % SAMPLE_EVERY == 0, window)
            for j in range(i, min(i + 100, args.members))))
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(0.5)
    server = psutil.Process(target.pid) if target.pid else None
    replies: list[asyncio.Future[dict[str, Any]]] = []
    interval = 1.0 / args.rate
    start = time.perf_counter()
    measured_from = start + args.warmup
    end = measured_from + args.duration
    s_cpu0 = 0.0
    n = 0
    while True:
        due = start + n * interval
        now = time.perf_counter()
        if due >= end:
            break
        if due > now:
            await asyncio.sleep(due - now)
        if not window[0] and time.perf_counter() >= measured_from:
            window[0] = True
            s_cpu0 = sum(server.cpu_times()[:2]) if server else 0.0
        future = owner.send_op("live_send", {
            "group_id": ROOM, "client_msg_id": f"{'m' if window[0] else 'w'}{n}",
            "priority": args.priority,
            "elements": [{"type": "text", "text": f"message {n}"}],
            "cloud_custom_data": str(time.perf_counter_ns())})
        if window[0]:
            replies.append(future)
        n += 1
    s_cpu1 = sum(server.cpu_times()[:2]) if server else 0.0
    done, _ = await asyncio.wait(replies, timeout=args.drain_timeout) if replies else (set(), 0)
    await asyncio.sleep(args.drain_timeout)  # let the last deliveries land
    answers = [f.result() for f in done]
    accepted = sum(1 for a in answers if a.get("ok"))
    shed = sum(1 for a in answers if not a.get("ok") and a["error"]["code"] == 94060)
    other = len(answers) - accepted - shed
    delivered = sum(m.received for m in members)
    lat = [x for m in members for x in m.latencies_ns]
    errors = disconnect_all([*members, owner])
    expected = accepted * len(members)
    return {
        "members": len(members), "rate": args.rate, "priority": args.priority,
        "room_rate": args.room_rate or 40, "duration_s": args.duration,
        "database": target.database, "server_commit": target.commit,
        "connect_s": round(connect_s, 2),
        "sent_per_s": round(len(replies) / args.duration, 1),
        "accepted_per_s": round(accepted / args.duration, 1),
        "shed_per_s": round(shed / args.duration, 1), "other_errors": other,
        "unanswered": len(replies) - len(answers),  # no reply within --drain-timeout
        "deliveries_per_s": round(delivered / args.duration),
        "delivered_of_expected": round(delivered / expected, 4) if expected else None,
        "latency_ms": {"p50": pct(lat, 50), "p99": pct(lat, 99), "max": pct(lat, 100)},
        "server_cpu_pct": round((s_cpu1 - s_cpu0) * 100 / args.duration, 1),
        "server_cpu_us_per_delivery": round((s_cpu1 - s_cpu0) * 1e6 / max(delivered, 1), 2),
        "loadavg_1m": round(os.getloadavg()[0], 1),  # others share these 2 CPUs
        "errors": len(errors), "first_error": errors[0] if errors else "",
        "ok": not errors and other == 0 and len(answers) == len(replies)
        and delivered == expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=40.0, help="messages a second sent")
    parser.add_argument("--room-rate", type=float, default=0.0,
                        help="TIDINGS_LIVE_ROOM_RATE (0: the server's default, 40)")
    parser.add_argument("--priority", choices=["High", "Normal", "Low"], default="Normal")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--drain-timeout", type=float, default=3.0)
    parser.add_argument("--database-url", default="",
                        help="TIDINGS_DATABASE_URL for our server (default: SQLite)")
    parser.add_argument("--show-server-log", action="store_true")
    args = parser.parse_args()
    args.callback = "none"
    args.server_env = ({"TIDINGS_LIVE_ROOM_RATE": str(args.room_rate)}
                       if args.room_rate else {})
    run_on_own_server(args, bench, sockets=args.members)


if __name__ == "__main__":
    main()
