"""The picows client the benches share: one connection speaking the real-time
protocol (docs/protocol.md). It answers the server's pings, matches replies
to requests, and leaves the frames a bench counts to its hooks, so that a
bench's hot path stays a plain callback with no coroutine per frame."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

C = TypeVar("C", bound="Client")


class Client(WSListener):
    """One connection. Subclasses override the hooks: ``take`` (a fast path
    before any JSON parsing), ``on_event``, ``on_reply`` and ``on_close``."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.transport: WSTransport | None = None
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.count = 0
        self.errors: list[str] = []

    # -- requests -----------------------------------------------------------------

    def send_op(self, op: str, data: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
        """Send a request; the future gets its reply, ``ok`` or not."""
        assert self.transport is not None
        self.count += 1
        req_id = f"{op}-{self.count}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[req_id] = future
        self.transport.send(WSMsgType.TEXT, orjson.dumps({"op": op, "id": req_id, "data": data}))
        return future

    async def request(self, op: str, data: dict[str, Any], within: float = 60) -> Any:
        """The reply's data; a refusal raises."""
        reply = await asyncio.wait_for(self.send_op(op, data), within)
        if not reply.get("ok"):
            raise RuntimeError(f"{self.user}: {op} failed: {reply}")
        return reply["data"]

    # -- hooks ----------------------------------------------------------------------

    def take(self, frame: WSFrame, at: int) -> bool:
        """True when the bench took this text frame itself (``at``: when it came, ns)."""
        return False

    def on_event(self, event: str, doc: dict[str, Any], at: int) -> None:
        """An event other than ``ping``."""

    def on_reply(self, doc: dict[str, Any], at: int) -> None:
        """A reply to no request sent with ``send_op`` (a bench's own ids)."""

    def on_close(self, frame: WSFrame) -> None:
        self.errors.append(f"closed: {frame.get_close_code()}")

    # -- picows -----------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        at = time.perf_counter_ns()
        if frame.msg_type != WSMsgType.TEXT:
            if frame.msg_type == WSMsgType.CLOSE:
                self.on_close(frame)
            return
        if self.take(frame, at):
            return
        doc = orjson.loads(frame.get_payload_as_memoryview())
        event = doc.get("event")
        if event == "ping":
            transport.send(WSMsgType.TEXT, b'{"op":"pong"}')
        elif event is not None:
            self.on_event(event, doc, at)
        else:
            req_id = doc.get("re")
            future = self.waiting.pop(req_id, None) if isinstance(req_id, str) else None
            if future is None:
                self.on_reply(doc, at)
            elif not future.done():
                future.set_result(doc)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError(f"{self.user}: disconnected"))


def ws_url(base_url: str) -> str:
    return base_url.replace("http", "ws", 1) + "/v1/ws"


async def open_client(base_url: str, factory: Callable[[], C], **options: Any) -> C:
    """``options``: picows' (``read_buffer_init_size``) and the loop's
    ``create_connection``'s (``local_addr``: a crowd of 100,000 needs
    several source addresses, 28,000 ports each)."""
    _, client = await ws_connect(factory, ws_url(base_url), max_frame_size=1 << 22, **options)
    return cast(C, client)


async def connect(base_url: str, sdkappid: int, signer: Any, factory: Callable[[], C], *,
                  sync: bool = True, **options: Any) -> C:
    """A client logged in as its user (a ticket from ``signer``, TLSSigAPIv2)
    and, unless ``sync`` is false, synced so that live frames flow."""
    client = await open_client(base_url, factory, **options)
    await client.request("login", {"sdkappid": sdkappid, "user_id": client.user,
                                   "usersig": signer.gen_sig(client.user, 86400),
                                   "device": {"platform": "bench"}})
    if sync:
        await client.request("sync", {"known": {}, "limit": 0})
    return client


def disconnect_all(clients: list[Client]) -> list[str]:
    """Close every connection; the errors they saw, first come first."""
    errors = [e for c in clients for e in c.errors]
    for c in clients:
        if c.transport is not None:
            c.transport.disconnect()
    return errors
