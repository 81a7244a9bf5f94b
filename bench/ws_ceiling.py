"""WebSocket relay-throughput ceiling for candidate gateway stacks (no persistence).

Each client sends ``{"op":"send","to":<peer>,"id":<n>,"text":"hello"}`` text frames.
The server parses the JSON with orjson, looks the peer up in a dict, sends the peer
``{"op":"msg","from":...,"text":...}`` and the sender ``{"op":"ack","id":...}``:
1 receive + 2 sends per message. Every client keeps ``--window`` unacked messages in
flight, so this measures throughput rather than latency.

The server runs in its own process pinned to CPU 0; the picows load generator runs in
another process pinned to CPU 1. Only 127.0.0.1 is used.

    python bench/ws_ceiling.py                      # all stacks, ~2 minutes
    python bench/ws_ceiling.py --stacks picows,websockets-asyncio --duration 4
    python bench/ws_ceiling.py --repeat 3 --duration 4   # round-robin, prints medians

Prints one JSON line per stack: delivered msgs/s, acks/s, server CPU % and client CPU %.
A client CPU % close to 100 means the load generator, not the server, was the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]
import uvloop
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    ws_connect,
    ws_create_server,
)

HOST = "127.0.0.1"
SERVER_CPU = 0
CLIENT_CPU = 1


@dataclass(frozen=True)
class Stack:
    name: str
    kind: str  # "uvicorn" | "websockets" | "picows" | "picows-in-uvicorn" | "lean"
    uvicorn_ws: str = ""
    work_us: float = 0.0


STACKS: dict[str, Stack] = {
    s.name: s
    for s in (
        Stack("uvicorn-websockets", "uvicorn", "websockets"),
        Stack("uvicorn-websockets-sansio", "uvicorn", "websockets-sansio"),
        Stack("uvicorn-wsproto", "uvicorn", "wsproto"),
        Stack("websockets-asyncio", "websockets"),
        Stack("picows", "picows"),
        Stack("picows-in-uvicorn-loop", "picows-in-uvicorn"),
        # Tidings' own codec on the socket uvicorn's HTTP parser upgraded
        # (gateway/ws_frames.py, as gateway/ws_lean.py serves /v1/ws).
        Stack("tidings-lean-in-uvicorn", "lean"),
        Stack("uvicorn-websockets+20us", "uvicorn", "websockets", work_us=20.0),
        Stack("picows+20us", "picows", work_us=20.0),
    )
}


def burn(work_us: float) -> None:
    """Spin for ``work_us`` microseconds of pure-Python work (simulated app logic)."""
    if work_us <= 0:
        return
    deadline = time.perf_counter() + work_us / 1e6
    while time.perf_counter() < deadline:
        pass


def uid_from_query(query: str) -> str:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "u":
            return value
    raise ValueError(f"missing ?u= in {query!r}")


# --------------------------------------------------------------------------- servers


def make_starlette_app(work_us: float, lifespan: Any = None) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

    conns: dict[str, WebSocket] = {}

    async def relay(ws: WebSocket) -> None:
        uid = ws.query_params["u"]
        await ws.accept()
        conns[uid] = ws
        try:
            while True:
                m = orjson.loads(await ws.receive_text())
                burn(work_us)
                peer = conns.get(m["to"])
                if peer is not None:
                    out = {"op": "msg", "from": uid, "text": m["text"]}
                    # The peer may vanish mid-relay; that is not this connection's problem.
                    with contextlib.suppress(WebSocketDisconnect, WebSocketDisconnected):
                        await peer.send_text(orjson.dumps(out).decode())
                await ws.send_text(orjson.dumps({"op": "ack", "id": m["id"]}).decode())
        except (WebSocketDisconnect, WebSocketDisconnected):  # recv vs. send after close
            pass
        finally:
            conns.pop(uid, None)

    async def health(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [WebSocketRoute("/ws", relay), Route("/health", health)]
    return Starlette(routes=routes, lifespan=lifespan)


async def serve_uvicorn(port: int, ws_impl: str, work_us: float, app: Any = None) -> None:
    import uvicorn

    config = uvicorn.Config(
        app if app is not None else make_starlette_app(work_us),
        host=HOST,
        port=port,
        loop="none",  # we already run inside a uvloop loop
        http="httptools",
        ws=ws_impl,
        log_level="warning",
        access_log=False,
        lifespan="auto",
    )
    await uvicorn.Server(config).serve()


async def serve_websockets(port: int, work_us: float) -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    conns: dict[str, ServerConnection] = {}

    async def relay(ws: ServerConnection) -> None:
        assert ws.request is not None
        uid = uid_from_query(ws.request.path.partition("?")[2])
        conns[uid] = ws
        try:
            async for raw in ws:
                m = orjson.loads(raw)
                burn(work_us)
                peer = conns.get(m["to"])
                if peer is not None:
                    out = {"op": "msg", "from": uid, "text": m["text"]}
                    # text=True sends orjson's UTF-8 bytes as a TEXT frame without a decode.
                    with contextlib.suppress(ConnectionClosed):
                        await peer.send(orjson.dumps(out), text=True)
                await ws.send(orjson.dumps({"op": "ack", "id": m["id"]}), text=True)
        except ConnectionClosed:
            pass
        finally:
            conns.pop(uid, None)

    async with serve(relay, HOST, port) as server:
        await server.serve_forever()


class PicowsRelay(WSListener):
    """Server-side picows handler: plain callbacks, no coroutine per connection."""

    def __init__(self, uid: str, conns: dict[str, WSTransport], work_us: float) -> None:
        self.uid = uid
        self.conns = conns
        self.work_us = work_us

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.conns[self.uid] = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            # The frame's buffer is only valid during this callback; orjson copies out.
            m = orjson.loads(frame.get_payload_as_memoryview())
            burn(self.work_us)
            peer = self.conns.get(m["to"])
            if peer is not None and not peer.is_close_frame_sent:
                out = {"op": "msg", "from": self.uid, "text": m["text"]}
                peer.send(WSMsgType.TEXT, orjson.dumps(out))
            transport.send(WSMsgType.TEXT, orjson.dumps({"op": "ack", "id": m["id"]}))
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.conns.get(self.uid) is transport:
            del self.conns[self.uid]


async def start_picows(port: int, work_us: float) -> asyncio.Server:
    conns: dict[str, WSTransport] = {}

    def factory(request: WSUpgradeRequest) -> WSListener | None:
        path, _, query = request.path.decode().partition("?")
        if path != "/ws":
            return None  # picows answers 404
        return PicowsRelay(uid_from_query(query), conns, work_us)

    return await ws_create_server(factory, HOST, port)


async def serve_picows(port: int, work_us: float) -> None:
    server = await start_picows(port, work_us)
    await server.serve_forever()


async def serve_picows_in_uvicorn(port: int, work_us: float) -> None:
    """picows on ``port`` and a Starlette/uvicorn HTTP app on ``port + 1``, one event loop."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        server = await start_picows(port, work_us)
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()

    app = make_starlette_app(work_us, lifespan=lifespan)
    await serve_uvicorn(port + 1, "none", work_us, app=app)


class LeanRelay(asyncio.Protocol):
    """The relay on Tidings' codec: frames parsed by ``FrameReader``, written
    with ``ws_frames.frame``, callbacks only (as gateway/ws_lean.py reads)."""

    def __init__(self, uid: str, conns: dict[str, LeanRelay], transport: asyncio.Transport,
                 work_us: float) -> None:
        from tidings.gateway.ws_frames import FrameReader

        self.uid, self.conns, self.transport, self.work_us = uid, conns, transport, work_us
        self.reader = FrameReader(1 << 20)
        conns[uid] = self

    def send(self, data: bytes) -> None:
        from tidings.gateway.ws_frames import TEXT, frame

        if not self.transport.is_closing():
            self.transport.write(frame(TEXT, data))

    def data_received(self, data: bytes) -> None:
        from tidings.gateway.ws_frames import CLOSE, TEXT, close_frame

        for opcode, payload in self.reader.feed(data):
            if opcode == TEXT:
                m = orjson.loads(payload)
                burn(self.work_us)
                peer = self.conns.get(m["to"])
                if peer is not None:
                    peer.send(orjson.dumps({"op": "msg", "from": self.uid, "text": m["text"]}))
                self.send(orjson.dumps({"op": "ack", "id": m["id"]}))
            elif opcode == CLOSE:
                self.transport.write(close_frame(1000))
                self.transport.close()
        if self.reader.failure is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conns.get(self.uid) is self:
            del self.conns[self.uid]


async def serve_lean(port: int, work_us: float) -> None:
    """uvicorn's httptools protocol parses the upgrade; the socket then goes
    to ``LeanRelay`` (Tidings' server does this in server.py)."""
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from tidings.gateway.ws_frames import accept_key

    conns: dict[str, LeanRelay] = {}

    class LeanHttp(HttpToolsProtocol):
        def handle_websocket_upgrade(self) -> None:
            path, _, query = self.url.decode().partition("?")
            accept, _ = accept_key(self.headers)
            if path != "/ws" or accept is None:
                self.transport.close()
                return
            self.connections.discard(self)
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept
                                 + b"\r\n\r\n")
            self.transport.set_protocol(LeanRelay(uid_from_query(query), conns, self.transport,
                                                  work_us))

    config = uvicorn.Config(make_starlette_app(work_us), host=HOST, port=port, loop="none",
                            http=LeanHttp, ws="websockets-sansio", log_level="warning",
                            access_log=False, lifespan="auto")
    await uvicorn.Server(config).serve()


def run_server(stack: Stack, port: int) -> None:
    os.sched_setaffinity(0, {SERVER_CPU})
    mains: dict[str, Callable[[], Any]] = {
        "uvicorn": lambda: serve_uvicorn(port, stack.uvicorn_ws, stack.work_us),
        "websockets": lambda: serve_websockets(port, stack.work_us),
        "picows": lambda: serve_picows(port, stack.work_us),
        "picows-in-uvicorn": lambda: serve_picows_in_uvicorn(port, stack.work_us),
        "lean": lambda: serve_lean(port, stack.work_us),
    }
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(mains[stack.kind]())


# --------------------------------------------------------------------------- client

ACK_PREFIX = b'{"op":"ack"'
SEND_TEMPLATE = b'{"op":"send","to":"%s","id":"%d","text":"hello"}'


class Counters:
    __slots__ = ("acks", "delivered", "sending")

    def __init__(self) -> None:
        self.delivered = 0
        self.acks = 0
        self.sending = False


class LoadClient(WSListener):
    """Sends to one peer, keeps ``window`` unacked messages in flight."""

    def __init__(self, peer: str, window: int, counters: Counters) -> None:
        self.peer = peer.encode()
        self.window = window
        self.counters = counters
        self.transport: WSTransport | None = None
        self.seq = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def start(self) -> None:
        for _ in range(self.window):
            self.send_one()

    def send_one(self) -> None:
        assert self.transport is not None
        self.seq += 1
        self.transport.send(WSMsgType.TEXT, SEND_TEMPLATE % (self.peer, self.seq))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return
        c = self.counters
        if frame.get_payload_as_bytes().startswith(ACK_PREFIX):
            c.acks += 1
            if c.sending:
                self.send_one()
        else:
            c.delivered += 1


def busy_cpu() -> float:
    """Machine-wide busy CPU seconds (user+nice+system+irq+softirq; steal excluded)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq)


async def run_client(
    port: int, server_pid: int, pairs: int, window: int, warmup: float, duration: float
) -> dict[str, Any]:
    counters = Counters()
    clients: list[LoadClient] = []
    transports: list[WSTransport] = []
    for i in range(2 * pairs):
        peer = f"u{i ^ 1}"
        url = f"ws://{HOST}:{port}/ws?u=u{i}"
        transport, client = await ws_connect(lambda p=peer: LoadClient(p, window, counters), url)
        assert isinstance(client, LoadClient)
        clients.append(client)
        transports.append(transport)
    await asyncio.sleep(0.3)  # let the server register every connection

    counters.sending = True
    for client in clients:
        client.start()
    await asyncio.sleep(warmup)

    server = psutil.Process(server_pid)
    s_cpu0, c_cpu0, sys0 = sum(server.cpu_times()[:2]), time.process_time(), busy_cpu()
    d0, a0, t0 = counters.delivered, counters.acks, time.perf_counter()
    await asyncio.sleep(duration)
    d1, a1, t1 = counters.delivered, counters.acks, time.perf_counter()
    s_cpu1, c_cpu1, sys1 = sum(server.cpu_times()[:2]), time.process_time(), busy_cpu()
    counters.sending = False

    await asyncio.sleep(0.3)  # drain in-flight messages, then close cleanly
    for transport in transports:
        transport.send_close(WSCloseCode.OK)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            await asyncio.gather(*(t.wait_disconnected() for t in transports))
    elapsed = t1 - t0
    return {
        "msgs_per_s": round((d1 - d0) / elapsed),
        "acks_per_s": round((a1 - a0) / elapsed),
        "server_cpu_pct": round(100 * (s_cpu1 - s_cpu0) / elapsed, 1),
        # Server CPU per relayed message (1 recv + 2 sends); 1e6 / this = 1-core ceiling.
        "server_us_per_msg": round(1e6 * (s_cpu1 - s_cpu0) / max(d1 - d0, 1), 2),
        "client_cpu_pct": round(100 * (c_cpu1 - c_cpu0) / elapsed, 1),
        # CPU used by anything else on the box (out of 200 %): high values = noisy run.
        "other_cpu_pct": round(
            100 * ((sys1 - sys0) - (s_cpu1 - s_cpu0) - (c_cpu1 - c_cpu0)) / elapsed, 1
        ),
    }


def client_main(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {CLIENT_CPU})
    result = uvloop.run(
        run_client(args.port, args.server_pid, args.pairs, args.window, args.warmup, args.duration)
    )
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- orchestration


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"server did not listen on {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_stack(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    me = [sys.executable, os.path.abspath(__file__)]
    server = subprocess.Popen([*me, "server", stack.name, "--port", str(port)])
    try:
        wait_for_port(port)
        extra: dict[str, Any] = {}
        if stack.kind == "picows-in-uvicorn":  # prove the HTTP app shares the loop
            wait_for_port(port + 1)
            with urllib.request.urlopen(f"http://{HOST}:{port + 1}/health", timeout=2) as r:
                extra["http_health"] = r.read().decode()
        cmd = [
            *me, "client", "--port", str(port), "--server-pid", str(server.pid),
            "--pairs", str(args.pairs), "--window", str(args.window),
            "--warmup", str(args.warmup), "--duration", str(args.duration),
        ]  # fmt: skip
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.warmup + args.duration + 30
        )
        if out.returncode != 0:
            return {"stack": stack.name, "error": out.stderr.strip()[-500:]}
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return {"stack": stack.name, **result, **extra}
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode")
    srv = sub.add_parser("server")
    srv.add_argument("stack", choices=list(STACKS))
    srv.add_argument("--port", type=int, required=True)
    cli = sub.add_parser("client")
    cli.add_argument("--port", type=int, required=True)
    cli.add_argument("--server-pid", type=int, required=True)
    for p in (parser, cli):
        p.add_argument("--pairs", type=int, default=50)
        p.add_argument("--window", type=int, default=50, help="unacked msgs per client")
        p.add_argument("--warmup", type=float, default=1.0)
        p.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=1, help="rounds over all stacks")
    parser.add_argument("--stacks", default=",".join(STACKS), help="comma-separated subset")
    args = parser.parse_args()

    if args.mode == "server":
        run_server(STACKS[args.stack], args.port)
    elif args.mode == "client":
        client_main(args)
    else:
        if len(os.sched_getaffinity(0)) < 2:
            sys.exit("need at least 2 CPUs (server on CPU 0, client on CPU 1)")
        os.sched_setaffinity(0, {CLIENT_CPU})  # the orchestrator mostly sleeps
        names = args.stacks.split(",")
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for i in range(args.repeat):  # round-robin so background noise hits all stacks
            for name in names:
                result = {**bench_stack(STACKS[name], args), "run": i}
                runs[name].append(result)
                print(json.dumps(result), flush=True)
        if args.repeat > 1:
            for name, results in runs.items():
                rates = sorted(r.get("msgs_per_s", 0) for r in results)
                summary = {"stack": name, "summary": True, "median_msgs_per_s": median(rates)}
                print(json.dumps({**summary, "min": rates[0], "max": rates[-1]}), flush=True)


if __name__ == "__main__":
    main()
