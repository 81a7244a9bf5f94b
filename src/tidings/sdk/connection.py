"""One WebSocket of the client: requests matched to their replies by id.

The connection loop (:mod:`tidings.sdk.session`) makes one per login; when it
drops, every request waiting on it fails with :class:`ConnectionLost` and is
sent again on the next one."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.sdk.models import error_from

log = logging.getLogger("tidings.sdk")

T = TypeVar("T")
_PING: Final = '{"op":"ping"}'


class ConnectionLost(Exception):
    """The connection a request went out on is gone; try the next one."""


def as_dict(data: Any) -> dict[str, Any]:
    """An answer's data, which must be a JSON object."""
    if not isinstance(data, dict):
        raise TidingsError(ErrorCode.INTERNAL, f"malformed answer: {data!r:.100}")
    return data


class Connection:
    """One WebSocket: requests matched to replies by id."""

    def __init__(self, ws: ClientConnection, who: str) -> None:
        self.ws = ws
        self.who = who  # the user, in log lines
        self.last_heard = time.monotonic()
        self.last_ping = 0.0
        self.lost = False
        self._ids = itertools.count(1)
        # Handlers run in the reader, in order with the events around them;
        # they run even when the caller stopped waiting (an ack still counts).
        self._waiting: dict[int, tuple[asyncio.Future[Any], Callable[[Any], Any]]] = {}

    async def request(self, op: str, data: Mapping[str, Any],
                      handler: Callable[[Any], T], within: float) -> T:
        if self.lost:
            raise ConnectionLost
        req_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = (future, handler)
        try:
            await self.ws.send(orjson.dumps({"op": op, "id": req_id, "data": data}).decode())
        except ConnectionClosed as exc:
            # Lost now, before the reader notices: a caller retrying on
            # ConnectionLost must wait for the next connection, not meet this
            # one again (a send that fails without yielding would spin).
            self._waiting.pop(req_id, None)
            self.drop()
            raise ConnectionLost from exc
        try:
            result: T = await asyncio.wait_for(future, within)
        except TimeoutError:
            raise TimeoutError(f"no answer to {op!r} within {within:.1f}s") from None
        return result

    def resolve(self, doc: Mapping[str, Any]) -> None:
        req_id = doc.get("re")
        if not isinstance(req_id, int):
            if doc.get("ok") is False:
                log.warning("the server refused a frame: %s", doc.get("error"))
            return
        entry = self._waiting.pop(req_id, None)
        if entry is None:
            return
        future, handler = entry
        if not doc.get("ok"):
            if not future.done():
                future.set_exception(error_from(doc.get("error")))
            return
        try:
            result = handler(doc.get("data"))
        except Exception as exc:
            log.exception("could not read the answer to request %s", req_id)
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)

    def drop(self) -> None:
        self.lost = True
        waiting, self._waiting = self._waiting, {}
        for future, _ in waiting.values():
            if not future.done():
                future.set_exception(ConnectionLost())
                future.exception()  # retrieved: nobody may be waiting any more

    async def watchdog(self, interval: float, dead_after: float) -> None:
        """Ends when nothing at all was heard for ``dead_after`` seconds. An
        idle server pings every ``interval``; when even that is late, we ask."""
        step = max(0.05, min(interval, dead_after) / 3)
        ask_after = max(interval, 0.75 * dead_after)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            silent = now - self.last_heard
            if silent > dead_after:
                log.warning("%s: heard nothing for %.1fs; reconnecting", self.who, silent)
                return
            if silent >= ask_after and now - self.last_ping >= ask_after:
                self.last_ping = now
                with contextlib.suppress(ConnectionClosed, TimeoutError):
                    await asyncio.wait_for(self.ws.send(_PING), dead_after)

    async def read(self, on_event: Callable[[Connection, object, Any], Awaitable[bool]]
                   ) -> None:
        """Read frames until the connection ends (or ``on_event`` answers
        False): replies go to their requests, events to ``on_event``."""
        try:
            async for raw in self.ws:
                self.last_heard = time.monotonic()
                try:
                    doc = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    log.warning("%s: a frame that is not JSON: %.100r", self.who, raw)
                    continue
                if not isinstance(doc, dict):
                    continue
                if "event" in doc:
                    try:
                        keep = await on_event(self, doc["event"], doc.get("data"))
                    except (KeyError, TypeError, ValueError):
                        log.exception("%s: a malformed %s event", self.who, doc["event"])
                        keep = False
                    if not keep:
                        return
                else:
                    self.resolve(doc)
        except ConnectionClosed:
            pass
        finally:
            self.drop()
