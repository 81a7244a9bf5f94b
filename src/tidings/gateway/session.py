"""One client connection: login, requests, live delivery and heartbeats.

Transport-agnostic: a WebSocket server feeds ``receive`` with each frame and
gives us a ``Transport`` to write to. Live delivery follows the catch-up rule
of docs/protocol.md: after login nothing is pushed until the first ``sync``;
frames that arrive during a sync are held back and released after its answer,
less those the answer already held. That is what makes reconnecting exact:
every message once, in seq order, with no gap.

Longer than 500 lines: the session's modes (login, syncing, waiting for a
sync, live), its outbound queue and its closes are one state machine, and
each transition reads the others' state; split, they would share private
fields across modules.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from pydantic import ValidationError

from tidings import logs, metrics
from tidings.domain.callbacks import Event
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity
from tidings.domain.requests import SyncRequest
from tidings.gateway import (
    conversation_ops,
    friend_ops,
    group_join_ops,
    group_ops,
    link_ops,
    live_ops,
    media_ops,
    message_ops,
    profile_ops,
    push_ops,
    search_ops,
    timer_wheel,
)
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, Immediate, answering_op, heard, public_op
from tidings.protocol import frames, ops
from tidings.protocol.frames import FrameError, RequestId, event_frame
from tidings.runtime import Runtime
from tidings.services.messaging import SendContext, SyncResult

log = logs.get_logger(__name__)

_session_ids = itertools.count(1)

# The ops other than login, sync, ping and pong, by feature: each module's
# ``handlers(ctx)`` maps op names to handlers typed against OpContext.
_OP_MODULES = (message_ops.handlers, conversation_ops.handlers, friend_ops.handlers,
               profile_ops.handlers, group_ops.handlers, search_ops.handlers,
               group_join_ops.handlers, live_ops.handlers, push_ops.handlers,
               media_ops.handlers, link_ops.handlers)
# op name -> the module function that makes its handler (filled once).
_MODULE_OF: dict[str, Callable[[OpContext], dict[str, Handler]]] = {}


class CloseCode(enum.IntEnum):
    HEARTBEAT_TIMEOUT = 4002
    LOGIN_TIMEOUT = 4003
    SLOW_CONSUMER = 4004


# How a connection ended, for the app's state-change callback: the server's
# close code -> (action, reason); the client's clean close is a logout.
_SERVER_CLOSE: dict[int, tuple[str, str]] = {
    4002: ("disconnect", "TimeOut"),
    4004: ("disconnect", "SlowConsumer"),
    4005: ("logout", "Kicked"),
    4006: ("logout", "Disabled"),
    4007: ("logout", "Deleted"),
}


class Transport(Protocol):
    async def send(self, frame: bytes) -> None: ...
    async def close(self, code: int, reason: str) -> None: ...

    def send_now(self, frame: bytes) -> bool:
        """Write ``frame`` at once if the socket takes it without waiting
        (True), else leave it (False: ``send`` will)."""
        ...


class Mode(enum.Enum):
    WAITING_SYNC = 1  # logged in; live frames are dropped, sync will hold them
    SYNCING = 2       # live frames are held back until the answer is out
    LIVE = 3


# ``push`` reads these for every live frame: as plain names, not off the
# class (on Python 3.11 ``Mode.LIVE`` goes through ``EnumType.__getattr__``'s
# slot, ~60 ns a read: issue 19, perf-loop7).
_LIVE = Mode.LIVE
_SYNCING = Mode.SYNCING


# The heartbeat's frame: one for every session (each made its own: 4 KiB,
# orjson's buffer, per idle connection).
_PING = event_frame("ping", {})


class TokenBucket:
    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self, now: float) -> bool:
        """One token at ``now`` (the caller's ``time.monotonic()``: the
        session reads the clock once per frame, for this and its heartbeat)."""
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class Session:
    # Slots: an idle connection's session is most of what it holds (issue 19).
    __slots__ = ("__weakref__", "_bucket", "_closed", "_closed_with", "_covered",
                 "_handlers", "_held", "_last_heard", "_mode", "_opened", "_out", "_out_ready",
                 "_rt", "_sending", "_settings", "_settle_mark", "_tasks", "_timer", "_transport",
                 "_writer", "client_ip", "device", "id", "identity", "send_context", "since",
                 "ticket_userbuf")

    def __init__(self, runtime: Runtime, transport: Transport) -> None:
        self.id = next(_session_ids)
        self._rt = runtime
        self._settings = runtime.settings
        self._transport = transport
        self.identity: Identity | None = None
        self.device: dict[str, str] = {}
        self.since = 0
        self.client_ip = ""
        # The login ticket's userbuf: a home sign-in's session, whose
        # sign-out closes this socket (services/home_accounts.py).
        self.ticket_userbuf: bytes | None = None
        # Where this connection's sends come from, for the app's callbacks
        # (OpContext's): an attribute, not a property (a call per send).
        self.send_context = SendContext()
        self._closed_with: int | None = None
        self._mode = Mode.WAITING_SYNC
        self._held: list[tuple[int | None, int, bytes]] = []
        # conversation id -> the last seq the latest sync answer covered. A
        # commit can be visible to the sync's reads before the writer's hook
        # fans it out, so its live frame may come after the answer: drop it.
        self._covered: dict[int, int] = {}
        # In a cluster: the bus's presence news of this login, which every
        # other process must know before the first sync reads the store
        # (bus/settle.py); 0: nothing to wait for.
        self._settle_mark = 0
        # Frames that wait for the socket, and the writer task's wake-up:
        # made when a frame first has to wait (most connections never).
        self._out: deque[bytes] | None = None
        self._out_ready: asyncio.Event | None = None
        # The writer task holds a frame it has taken from _out.
        self._sending = False
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._bucket = TokenBucket(self._settings.rate_limit_per_second,
                                   self._settings.rate_limit_burst)
        self._last_heard = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []
        # The login deadline, then the heartbeat: a key of the loop's timer
        # wheel, not a task per connection (a task and its coroutine were
        # ~1 KiB of an idle one, a loop timer of its own ~0.5 KiB).
        self._timer: int | None = None
        self._opened = time.monotonic()
        self._handlers: dict[str, Handler] = {
            "login": answering_op(ops.LoginData, self._login),
            "sync": answering_op(SyncRequest, self._sync),
            "ping": public_op(self, ops.Empty, lambda r: {"server_time": now_ms()}),
            "pong": heard(),
        }
        if not _MODULE_OF:
            self.all_handlers()

    def _handler(self, op: str) -> Handler | None:
        """The handler of ``op``. A feature's handlers are made when the
        connection first uses one of its ops: all of them for every
        connection were 56 KiB and 0.9 ms of CPU per connection (issue 19),
        and most connections use a few features."""
        handler = self._handlers.get(op)
        if handler is None:
            module = _MODULE_OF.get(op)
            if module is None:
                return None
            self._handlers.update(module(self))
            handler = self._handlers[op]
        return handler

    def all_handlers(self) -> dict[str, Handler]:
        """Every op's handler for this connection (and which module makes
        each, learned once for every connection)."""
        for module in _OP_MODULES:
            made = module(self)
            self._handlers.update(made)
            _MODULE_OF.update(dict.fromkeys(made, module))
        return self._handlers

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        # The writer task starts when a frame first has to wait (see reply).
        self._timer = timer_wheel.wheel().schedule(self, self._settings.login_timeout)

    async def finish(self, code: int | None = None) -> None:
        """The connection is gone (``code``: the client's close code, if it
        sent one): stop delivering and tidy up."""
        self._closed = True
        self._rt.live.detach(self.identity, self)
        self._log_close(code)
        if self.identity is not None:
            self._rt.bus.detach(self.identity, self)
            if self._closed_with in _SERVER_CLOSE:
                action, reason = _SERVER_CLOSE[self._closed_with]
            elif self._closed_with is None and code in (1000, 1001):
                action, reason = "logout", "Unregister"
            else:
                action, reason = "disconnect", "LinkClose"
            self._state_changed(action, reason)
        self._stop_timer()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._closed_with = code
        self._rt.live.detach(self.identity, self)
        if self.identity is not None:
            self._rt.bus.detach(self.identity, self)
        try:
            await self._transport.close(code, reason)
        except Exception:  # the peer may already be gone
            log.debug("ws_close_failed", session=self.id, exc_info=True)

    def _log_close(self, client_code: int | None) -> None:
        """One ``ws_closed`` line (docs/logging.md): who closed, with which
        code, after how long; a connection that never logged in only at
        debug (anyone can open those by the thousand)."""
        by_server = self._closed_with is not None
        fields: dict[str, object] = {
            "session": self.id, "code": self._closed_with if by_server else client_code,
            "by": "server" if by_server else "client",
            "duration_s": round(time.monotonic() - self._opened, 3)}
        if self.identity is None:
            log.debug("ws_closed", **fields, client=self.client_ip)
        else:
            log.info("ws_closed", **fields, app=self.identity.sdkappid,
                     user=self.identity.user_id)

    def _state_changed(self, action: str, reason: str) -> None:
        """Queue the app's state-change callback (if it has one); never waits."""
        me = self._me()
        self._rt.callbacks.enqueue_soon(me.sdkappid, Event.STATE_CHANGE, {
            "user_id": me.user_id, "action": action, "reason": reason,
            "platform": self.device.get("platform", ""), "device_id": self.device.get("id", ""),
            "session_id": self.id, "client_ip": self.client_ip, "time": now_ms()})

    def describe(self) -> dict[str, object]:
        return {"session_id": self.id, "platform": self.device.get("platform", ""),
                "device_id": self.device.get("id", ""), "since": self.since}

    def disconnect(self, code: int, reason: str) -> None:
        """Close from outside the connection's own tasks (bus, admin)."""
        if not self._closed:
            task = asyncio.create_task(self.close(code, reason))
            self._tasks.append(task)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            timer_wheel.wheel().cancel(self, self._timer)
            self._timer = None

    def _heartbeat_soon(self) -> None:
        s = self._settings
        self._timer = timer_wheel.wheel().schedule(
            self, min(s.heartbeat_interval, s.heartbeat_timeout / 2))

    def on_tick(self) -> None:
        """The timer: before login, the login deadline; after it, the
        heartbeat (ping a quiet client, close one silent past the timeout)."""
        self._timer = None
        if self._closed:
            return
        if self.identity is None:
            self.disconnect(CloseCode.LOGIN_TIMEOUT, "no login in time")
            return
        s = self._settings
        silent = time.monotonic() - self._last_heard
        if silent > s.heartbeat_timeout:
            self.disconnect(CloseCode.HEARTBEAT_TIMEOUT, "no pong in time")
            return
        if silent >= s.heartbeat_interval:
            self.reply(_PING)
        self._heartbeat_soon()

    async def _write_loop(self) -> None:
        out, ready = self._out, self._out_ready
        assert out is not None and ready is not None
        while True:
            while out:
                self._sending = True
                try:
                    await self._transport.send(out.popleft())
                finally:
                    self._sending = False
            ready.clear()
            await ready.wait()

    # -- outbound ----------------------------------------------------------

    def reply(self, frame: bytes) -> None:
        """Queue a frame for this connection, whatever the delivery mode."""
        if self._closed:
            return
        # Straight to the socket when nothing waits before it: no task
        # switch per frame, and no writer task at all while the peer reads.
        if not self._out and not self._sending and self._transport.send_now(frame):
            return
        self._enqueue(frame)

    def _enqueue(self, frame: bytes) -> None:
        """Behind the frames already queued, for the session's writer task."""
        out = self._out
        if out is None:
            out = self._out = deque()
            self._out_ready = asyncio.Event()
        if len(out) >= self._settings.outbound_queue_limit:
            # The client does not read; it resyncs when it comes back.
            self.disconnect(CloseCode.SLOW_CONSUMER, "client reads too slowly")
            return
        out.append(frame)
        assert self._out_ready is not None
        self._out_ready.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(),
                                               name=f"session-{self.id}-writer")
            self._tasks.append(self._writer)

    def push(self, frame: bytes, conversation_id: int | None = None, seq: int = 0) -> None:
        """A live frame from the bus."""
        if self._mode is _LIVE:
            if conversation_id is not None and conversation_id in self._covered:
                if seq <= self._covered[conversation_id]:
                    return  # already in the sync answer
                # Frames come in seq order: nothing older can follow.
                del self._covered[conversation_id]
            # ``reply``'s way straight to the socket, here: a call less per
            # live frame (issue 19); queued otherwise.
            if self._closed:
                return
            if self._out or self._sending or not self._transport.send_now(frame):
                self._enqueue(frame)
        elif self._mode is _SYNCING:
            self._held.append((conversation_id, seq, frame))
            if len(self._held) > self._settings.outbound_queue_limit:
                self.disconnect(CloseCode.SLOW_CONSUMER, "too much arrived during sync")
        # WAITING_SYNC: the coming sync reads it from the store.

    # -- inbound -----------------------------------------------------------

    async def receive(self, raw: str | bytes) -> None:
        """Handle one frame, awaiting what it waits for."""
        rest = self.take(raw)
        if rest is not None:
            await rest

    def take(self, raw: str | bytes) -> Coroutine[Any, Any, None] | None:
        """Handle one frame as far as it goes without waiting: None when it
        is done (a send handed to the writer is: its ack follows the
        commit), else the rest to await before the next frame. The socket
        calls this straight from its read, so most frames need no task."""
        heard = self._last_heard = time.monotonic()
        req_id: RequestId = None
        op = ""
        try:
            req_id, op, data = frames.parse_frame(raw)
            if not self._bucket.take(heard):
                raise TidingsError(ErrorCode.RATE_LIMITED, "too many frames; slow down")
            # The map first: ``_handler`` only for an op not made yet.
            handler = self._handlers.get(op) or self._handler(op)
            if handler is None:
                raise TidingsError(ErrorCode.UNKNOWN_OP, f"unknown op {op!r}")
            if self.identity is None and op not in ("login", "ping", "pong"):
                raise TidingsError(ErrorCode.NOT_LOGGED_IN, "log in first")
            if op == "login" and self.identity is not None:
                raise TidingsError(ErrorCode.ALREADY_LOGGED_IN, "this connection is logged in")
            # The part that runs without a task (ops.Immediate), if any.
            now: Immediate | None = getattr(handler, "now", None)
            rest = handler(req_id, data) if now is None else now(req_id, data)
        except Exception as exc:
            self._refused(op, req_id, exc)
            return None
        return None if rest is None else self._rest(op, req_id, rest)

    async def _rest(self, op: str, req_id: RequestId, rest: Awaitable[object]) -> None:
        try:
            await rest
        except Exception as exc:
            self._refused(op, req_id, exc)

    def _refused(self, op: str, req_id: RequestId, exc: Exception) -> None:
        """The answer to a frame that failed: its error, or 50000 for a crash."""
        if isinstance(exc, FrameError):
            error, req_id = exc.error, exc.req_id
        elif isinstance(exc, TidingsError):
            error = exc
        elif isinstance(exc, ValidationError):
            error = frames.invalid(exc)
        else:
            log.exception("ws_op_crashed", session=self.id, op=op)  # called in its except
            error = TidingsError(ErrorCode.INTERNAL, "internal error; it was logged")
        self._failed(op, error)
        self.reply(frames.fail(req_id, error))

    def _failed(self, op: str, error: TidingsError) -> None:
        """A refused op: counted by code; a line at debug (a client's
        mistake is not the operator's news), a refused login at info."""
        metrics.ERRORS.labels("ws", str(int(error.code))).inc()
        if op == "login" and self.identity is None:
            metrics.LOGIN_REFUSED.inc()
            log.info("ws_login_refused", session=self.id, error=int(error.code),
                     client=self.client_ip)
        else:
            log.debug("ws_op_failed", session=self.id, op=op, error=int(error.code))

    def _me(self) -> Identity:
        assert self.identity is not None
        return self.identity

    # The same function (no second call per send: issue 19).
    me = _me

    # -- what op handlers see of it (gateway/context.py, OpContext) ----------

    @property
    def runtime(self) -> Runtime:
        return self._rt

    @property
    def platform(self) -> str:
        return self.device.get("platform", "")

    @property
    def device_id(self) -> str:
        return self.device.get("id", "")

    # -- the session's own ops: login and the catch-up ------------------------

    async def _login(self, req_id: RequestId, req: ops.LoginData) -> None:
        auth = self._rt.auth
        epoch = auth.epoch
        identity, claims = await auth.login_ticket(req.usersig, sdkappid=req.sdkappid,
                                                   user_id=req.user_id)
        if self._closed:
            return
        self.identity = identity
        self.ticket_userbuf = claims.userbuf
        self.device = {"platform": req.device.platform, "id": req.device.id}
        self.since = now_ms()
        self._rt.bus.attach(identity, self)
        self._settle_mark = self._rt.bus.mark()
        if auth.epoch != epoch:
            # An admin changed some account while we checked this one (a
            # kick or a disable would have missed us): check again, attached.
            try:
                await auth.login(req.usersig)
            except TidingsError:
                self._rt.bus.detach(identity, self)
                self.identity = None
                raise
        self._stop_timer()  # logged in: the login deadline gives way to the heartbeat
        self._heartbeat_soon()
        self.send_context = SendContext(req.device.platform, self.client_ip)
        self._state_changed("login", "Register")
        metrics.LOGIN_OK.inc()
        log.info("ws_login", session=self.id, app=identity.sdkappid, user=identity.user_id,
                 platform=req.device.platform, device=req.device.id, client=self.client_ip)
        s = self._settings
        self.reply(frames.ok(req_id, {
            "session_id": self.id, "server_time": now_ms(),
            "heartbeat_interval": s.heartbeat_interval, "heartbeat_timeout": s.heartbeat_timeout,
            "max_message_bytes": s.max_message_bytes,
            "recall_window": s.recall_window, "edit_window": s.edit_window,
        }))

    # -- catch-up ------------------------------------------------------------

    async def _sync(self, req_id: RequestId, req: SyncRequest) -> None:
        if self._settle_mark:
            # A message committed elsewhere after the read below must find
            # this device: wait until every process has heard of it.
            mark, self._settle_mark = self._settle_mark, 0
            await self._rt.bus.settled(mark)
        before = self._mode
        self._mode = Mode.SYNCING
        self._held = []
        started = time.perf_counter()
        me = self._me()
        try:
            # Asked in one turn of the event loop, the reads go to the store
            # together (store/reads.py). Friend requests wait in the store
            # for offline users: every sync answer lists the pending ones
            # (docs/friends.md); so do join applications, and how the
            # caller left the groups the device still holds (docs/groups.md,
            # "Join applications").
            result, pending, joins, left = await asyncio.gather(
                self._rt.messaging.sync(me, req.known, req.limit),
                self._rt.friends.incoming_requests(me),
                self._rt.group_joins.for_sync(me),
                self._rt.group_joins.groups_left(me, req.known))
        except BaseException:
            # A failed sync (any of its reads) leaves delivery as it was: a
            # live connection stays live and gets what was held meanwhile;
            # one that was syncing is not left holding frames for nobody.
            held, self._held = self._held, []
            self._mode = before
            if before is Mode.LIVE:
                for conversation_id, seq, frame in held:
                    self.push(frame, conversation_id, seq)
            raise
        self.reply(frames.ok(req_id, {"messages": result.messages,
                                      "conversations": result.conversations,
                                      "more": result.more, "friend_requests": pending,
                                      **joins, "groups_left": left}))
        metrics.SYNC_LATENCY.observe(time.perf_counter() - started)
        self._release(result)

    def _release(self, result: SyncResult) -> None:
        held, self._held = self._held, []
        if result.more:
            # The client asks again; the next answer holds these too.
            self._mode = Mode.WAITING_SYNC
            return
        self._mode = Mode.LIVE
        self._covered = dict(result.covered)
        for conversation_id, seq, frame in held:
            self.push(frame, conversation_id, seq)
