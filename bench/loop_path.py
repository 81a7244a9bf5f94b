"""The event loop's cost per message from a frame in to the ack and the
peer's event out, in-process and without the network (issue 19).

A started ``Runtime`` (SQLite in a temporary folder, WAL, ``synchronous=FULL``:
the writer and its commit are the real ones), ``--senders`` pairs of
``LeanWebSocket`` connections on stand-in transports: each sender's masked
frames go into ``data_received`` as the socket's reads would, its next send
follows its ack (read one loop callback later, as a socket read would be),
and each receiver counts its ``message`` events. Without clients, sockets and
another process's scheduling, the batches are the same from run to run (all
senders' messages of a turn commit together), so old and new code compare
on a loaded machine better than through ``chat_load.py``.

    python bench/loop_path.py --senders 16 --messages 8000
    PYTHONPATH=/tmp/old/src python bench/loop_path.py --senders 16   # the old code
    python bench/loop_path.py --text varied --ids time   # chat_load's frames, its texts and ids

Prints one JSON line: CPU per acked message of the event loop's thread
(user, system) and of the others (the batch thread), messages per batch, and
the loop's and the process's CPU per message in the least disturbed of
``--windows`` equal windows (``loop_us_min``, ``us_min``) and their median;
with ``--calls``, the loop's function calls per message (``calls_per_msg``:
a count, the same on a loaded machine as on a quiet one).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import chat_load
import orjson
import psutil  # type: ignore[import-untyped]
import uvloop
from TLSSigAPIv2 import TLSSigAPIv2  # type: ignore[import-untyped]
from writer_alone import thread_times  # bench/ is on the path (run as a script)

from tidings.config import Settings
from tidings.gateway.ws_lean import LeanWebSocket, _Server
from tidings.runtime import Runtime

_NO_MASK = b"\x00\x00\x00\x00"  # a client frame's mask: zero leaves the payload as it is


def client_frame(doc: dict[str, Any]) -> bytes:
    """A masked text frame, as a client sends it."""
    return masked(orjson.dumps(doc))


def masked(payload: bytes) -> bytes:
    """``payload`` in a masked text frame."""
    n = len(payload)
    head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
    return head + _NO_MASK + payload


def server_frames(data: bytes) -> list[dict[str, Any]]:
    """The JSON documents of the unmasked frames the server wrote."""
    out, pos = [], 0
    while pos < len(data):
        n, head = data[pos + 1] & 0x7F, 2
        if n == 126:
            n, head = int.from_bytes(data[pos + 2:pos + 4], "big"), 4
        elif n == 127:
            n, head = int.from_bytes(data[pos + 2:pos + 10], "big"), 10
        if data[pos] & 0x0F == 0x1:
            out.append(orjson.loads(data[pos + head:pos + head + n]))
        pos += head + n
    return out


class StandIn(asyncio.Transport):
    """What the connection writes to: frames are read back as the client's."""

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if data[:4] == b"HTTP":
            return
        for doc in server_frames(bytes(data)):
            self.client.heard(doc)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


class Client:
    def __init__(self, bench: Bench, user: str, peer: str) -> None:
        self.bench = bench
        self.user = user
        self.peer = peer
        self.conn = LeanWebSocket(bench.server, StandIn(self), 1 << 20, None)
        self.answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.sent = 0
        self.left = 0

    def request(self, req_id: int, op: str, data: dict[str, Any]) -> asyncio.Future[Any]:
        future = self.answers[req_id] = asyncio.get_running_loop().create_future()
        self.conn.data_received(client_frame({"op": op, "id": req_id, "data": data}))
        return future

    def send_next(self) -> None:
        if self.left <= 0:
            return
        self.left -= 1
        self.sent += 1
        if self.bench.chat_load_frames:  # chat_load's frame, text and id, byte for byte
            payload = chat_load.SEND % (
                1000 + self.sent, self.peer.encode(), chat_load.client_id(self.sent),
                chat_load.texts[self.sent % len(chat_load.texts)], time.perf_counter_ns())
            self.conn.data_received(masked(payload))
            return
        self.conn.data_received(client_frame({"op": "send", "id": 1000 + self.sent, "data": {
            "conversation_id": f"c2c_{self.peer}", "client_msg_id": f"{self.user}-{self.sent}",
            "elements": [{"type": "text", "text": "a message of about thirty chars"}]}}))

    def heard(self, doc: dict[str, Any]) -> None:
        if "event" in doc:
            if doc["event"] == "message":
                self.bench.delivered += 1
            return
        req_id = doc.get("re")
        if not doc.get("ok"):
            raise SystemExit(f"refused: {doc}")
        future = self.answers.pop(req_id, None) if isinstance(req_id, int) else None
        if future is not None:
            future.set_result(doc)
            return
        self.bench.acked += 1
        if self.left <= 0 and not self.answers:
            self.bench.maybe_done()
        # The next send is the client's next read: a loop callback later.
        asyncio.get_running_loop().call_soon(self.send_next)


class Bench:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.server = _Server(asyncio.get_running_loop(), set(), set())
        self.acked = 0
        self.delivered = 0
        self.target = 0
        self.done = asyncio.get_running_loop().create_future()
        self.chat_load_frames = False

    def maybe_done(self) -> None:
        if self.acked >= self.target and not self.done.done():
            self.done.set_result(None)

    async def round(self, senders: list[Client], per_sender: int) -> None:
        self.done = asyncio.get_running_loop().create_future()
        self.target = self.acked + per_sender * len(senders)
        for client in senders:
            client.left = per_sender
            client.send_next()
        await self.done


async def python_calls(bench: Bench, senders: list[Client], per_sender: int,
                       top: int = 0, dump: str = "") -> float:
    """Python function calls (and C calls the profiler sees) per acked
    message on the event loop's thread, over one more round under cProfile:
    a count, so unlike the CPU times it does not move with the machine's
    load (the bench clients' own calls included)."""
    profile = cProfile.Profile()
    count = bench.acked
    profile.enable()
    await bench.round(senders, per_sender)
    profile.disable()
    if dump:  # for pstats' callers and callees
        profile.dump_stats(dump)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    n = bench.acked - count
    ranked = sorted(stats.items(), key=lambda item: -item[1][1])[:top]
    for (file, line, name), (_, calls, *_) in ranked:  # to stderr: the JSON line stays alone
        print(f"{calls / n:7.2f}  {name}  {Path(file).name}:{line}", file=sys.stderr)
    return round(sum(calls for _, calls, *_ in stats.values()) / (bench.acked - count), 1)


def busy_seconds() -> float:
    """The machine's busy CPU seconds so far (every core)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tidings-loop-") as tmp:
        settings = Settings(data_dir=Path(tmp), rate_limit_per_second=1e9,
                            rate_limit_burst=10**9, push_enabled=args.push == "on")
        rt = await Runtime.start(settings)
        try:
            app, key = await rt.apps.create("Bench", "", "admin")
            signer = TLSSigAPIv2(app.sdkappid, key)
            bench = Bench(rt)
            bench.chat_load_frames = args.text != "own"
            senders, everyone = [], []
            for i in range(args.senders):
                a, b = Client(bench, f"s{i}", f"r{i}"), Client(bench, f"r{i}", f"s{i}")
                senders.append(a)
                everyone += [a, b]
            for client in everyone:
                client.conn.start(rt, "127.0.0.1")
                await client.request(1, "login", {
                    "sdkappid": app.sdkappid, "user_id": client.user,
                    "usersig": signer.gen_sig(client.user, 3600), "device": {"platform": "bench"}})
                await client.request(2, "sync", {"limit": 0})
            per_sender = max(1, args.messages // args.senders)
            await bench.round(senders, max(1, per_sender // 5))  # warm-up
            batches, committed = rt.writer.batches, rt.writer.committed
            before, started = thread_times(), time.perf_counter()
            machine = busy_seconds()
            acked = bench.acked
            # Windows of equal work, each timed by the loop's own CPU clock
            # and the process's: the fastest is the one the machine's other
            # load disturbed least (interference only adds time).
            loop_us, all_us = [], []
            per_window = max(1, per_sender // args.windows)
            for _ in range(args.windows):
                loop0, all0, count = time.thread_time(), time.process_time(), bench.acked
                await bench.round(senders, per_window)
                count = bench.acked - count
                loop_us.append((time.thread_time() - loop0) * 1e6 / count)
                all_us.append((time.process_time() - all0) * 1e6 / count)
            wall = time.perf_counter() - started
            after = thread_times()
            calls = (await python_calls(bench, senders, per_window, args.top, args.dump)
                     if args.calls else None)
            machine = busy_seconds() - machine
            n = bench.acked - acked
            us = {f"{k}_{part}": round((after[k][j] - before[k][j]) * 1e6 / n, 1)
                  for k in ("loop", "threads") for j, part in enumerate(("user", "system"))}
            return {
                "senders": args.senders, "text": args.text, "ids": args.ids, "messages": n,
                "acked_per_s": round(n / wall),
                "us_per_msg": round(sum(us.values()), 1), "by_thread": us,
                "loop_us_min": round(min(loop_us), 1),
                "loop_us_median": round(statistics.median(loop_us), 1),
                "us_min": round(min(all_us), 1), "us_median": round(statistics.median(all_us), 1),
                "per_batch": round((rt.writer.committed - committed)
                                   / max(1, rt.writer.batches - batches), 1),
                "delivered": bench.delivered,
                **({"calls_per_msg": calls} if calls is not None else {}),
                # What the rest of the machine used meanwhile, of 200 (2 cores).
                "other_cpu_pct": round(100 * (machine - sum(
                    after[k][j] - before[k][j] for k in after for j in (0, 1))) / wall, 1),
            }
        finally:
            await rt.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--messages", type=int, default=8000)
    parser.add_argument("--push", choices=("on", "off"), default="on")
    parser.add_argument("--windows", type=int, default=10,
                        help="measured windows (their minimum is the least disturbed)")
    parser.add_argument("--cpu", type=int, default=0, help="the core to run on")
    parser.add_argument("--calls", action="store_true",
                        help="also count the loop's calls per message (one more round, "
                             "under cProfile, after the timed windows)")
    parser.add_argument("--top", type=int, default=0,
                        help="with --calls, print the N most called functions "
                             "(calls per message) to stderr")
    parser.add_argument("--dump", default="", help="with --calls, write the profile to this file")
    parser.add_argument("--text", choices=("own", "same", "varied"), default="own",
                        help="own: this bench's frame (one 31-character text, ids "
                             "'<user>-<n>'); same/varied: chat_load's frame (with its "
                             "cloud_custom_data) and its --text, ids by --ids")
    parser.add_argument("--ids", choices=("counter", "uuid", "time"), default="counter",
                        help="with --text same/varied: chat_load's --ids")
    args = parser.parse_args()
    if args.text != "own":
        chat_load.set_text(args.text)
        chat_load.ID_SHAPE = args.ids
    os.sched_setaffinity(0, {args.cpu})  # every thread on one core, as the server in chat_load
    print(json.dumps(uvloop.run(run(args))))


if __name__ == "__main__":
    main()
