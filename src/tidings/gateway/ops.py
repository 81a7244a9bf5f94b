"""What the op modules (message_ops, friend_ops, group_ops, ...) share: the
shape of a handler, and the helpers that build one from a request model and a
call to a service. ``op`` is the usual one; its siblings are for the few ops
that need more: ``stored_op`` for a write whose ack comes from the writer
(recall, edit; a plain ``send`` is message_ops' own ``immediate_op``),
``public_op`` for an op allowed before login (ping),
``answering_op`` for an op that answers by itself because what it does after
the answer matters (login, sync), ``heard`` for a frame that is only heard
(pong).

Every handler is typed against ``OpContext`` (gateway/context.py), never
against the session."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from tidings import metrics
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity
from tidings.domain.records import Committed
from tidings.gateway.context import OpContext
from tidings.protocol import frames
from tidings.protocol.frames import RequestId
from tidings.protocol.ops import Empty
from tidings.services.messaging import AckTarget

Handler = Callable[[RequestId, dict[str, Any]], Awaitable[None]]

M = TypeVar("M", bound=BaseModel)


def _validating(model: type[BaseModel], handle: Handler) -> Handler:
    """Name on the handler the model its data is validated with, for the test
    that holds the gateway to the protocol's list (protocol.ops.OPS)."""
    setattr(handle, "model", model)  # noqa: B010 - an attribute of a function
    return handle


def op(ctx: OpContext, model: type[M], run: Callable[[Identity, M], Any]) -> Handler:
    """The handler that parses the frame's data as ``model``, calls ``run``
    as the logged-in user, and answers with what it returns (awaited when it
    is a coroutine: some services answer at once).

    A ValidationError is left to the session, which maps it with
    ``frames.invalid`` like every other op's."""

    async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
        request = model.model_validate(data)
        result = run(ctx.me(), request)
        if inspect.isawaitable(result):
            result = await result
        ctx.reply(frames.ok(req_id, result))

    return _validating(model, handle)


def public_op(ctx: OpContext, model: type[M], run: Callable[[M], Any]) -> Handler:
    """As ``op``, for an op that a connection may use before it logs in
    (``ping``): ``run`` gets the request alone."""

    async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
        request = model.model_validate(data)
        result = run(request)
        if inspect.isawaitable(result):
            result = await result
        ctx.reply(frames.ok(req_id, result))

    return _validating(model, handle)


def answering_op(model: type[M], run: Callable[[RequestId, M], Awaitable[None]]) -> Handler:
    """The handler that parses the frame's data as ``model`` and leaves the
    answer to ``run``, for an op that must act after its answer is queued
    (``sync`` releases the frames held back during it) or may have nobody
    left to answer (``login`` on a connection closed meanwhile)."""

    async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
        await run(req_id, model.model_validate(data))

    return _validating(model, handle)


def heard() -> Handler:
    """The handler of a frame that is only heard (``pong``): no answer; that
    it arrived is all that matters. Its data must be empty like any op's
    that takes none: other fields are refused with 10002, the one answer a
    ``pong`` can get."""

    async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
        if data:  # the common empty one costs nothing
            Empty.model_validate(data)

    return _validating(Empty, handle)


class Ack:
    """Routes the writer's ack for one write back to the connection that
    asked for it, as the op's answer (and times it: ack latency)."""

    __slots__ = ("device", "req_id", "started")

    def __init__(self, device: OpContext, req_id: RequestId) -> None:
        self.device = device
        self.req_id = req_id
        self.started = time.perf_counter()

    def ack(self, committed: Committed) -> None:
        self.device.reply(frames.ack(self.req_id, committed))
        _ACK_LATENCY(time.perf_counter() - self.started)

    def refused(self, error: BaseException) -> None:
        self.device.reply(refusal(self.req_id, error))


def refusal(req_id: RequestId, error: BaseException) -> bytes:
    """The answer to a write that failed after it was handed on: its error,
    or "retry" for a failure of the server's (the write may be retried with
    the same client id)."""
    if not isinstance(error, TidingsError):
        error = TidingsError(ErrorCode.SERVICE_UNAVAILABLE, "not stored; retry with the same id")
    return frames.fail(req_id, error)


_ACK_LATENCY = metrics.ACK_LATENCY.observe


def timed_op(ctx: OpContext, model: type[M], run: Callable[[Identity, M], Any],
             observe: Callable[[float], None]) -> Handler:
    """As ``op``, timed from the frame to its answer (history's latency)."""
    inner = op(ctx, model, run)

    async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
        started = time.perf_counter()
        await inner(req_id, data)
        observe(time.perf_counter() - started)

    return _validating(model, handle)


# What a write's ``run`` gives back: the write's future when it was handed
# to the service at once, else an awaitable of it (the write first reads
# something: an edit).
Stored = asyncio.Future[Committed] | Awaitable[asyncio.Future[Committed]]
# A handler's part that runs without a task: None when the frame is done,
# else what is left of it to await (its failures until the write is handed
# on are the frame's). A handler that has one carries it as its ``now``
# attribute (``immediate_op``); the session reads it per frame.
Immediate = Callable[[RequestId, dict[str, Any]], Awaitable[object] | None]


def stored_op(ctx: OpContext, model: type[M], run: Callable[[Identity, M, AckTarget], Stored],
              ack: Callable[[OpContext, RequestId], AckTarget] = Ack) -> Handler:
    """The handler of a write that the writer answers (recall, edit, a
    linked identity's send; message_ops' plain ``send`` does the same in
    one function): parses the frame's data as ``model`` and calls ``run``
    as the logged-in user with the ack target for
    this request (``ack``: ``Ack`` unless the answer needs another shape);
    ``run`` hands the write to a service and returns the write's future,
    which is not awaited: the next frame is read while this one commits.
    The service answers through the ack target: its ack in order with the
    live frames of its commit, or a later failure through ``refused``
    (AckTarget), so the future needs no callback of ours."""

    read = model.model_validate

    def now(req_id: RequestId, data: dict[str, Any]) -> Awaitable[object] | None:
        submitted = run(ctx.me(), read(data), ack(ctx, req_id))
        return None if isinstance(submitted, asyncio.Future) else submitted

    return immediate_op(model, now)


def immediate_op(model: type[BaseModel], now: Immediate) -> Handler:
    """The handler whose frame ``now`` handles as far as it goes without
    waiting: None when it is done, else what is left to await. The session
    calls the handler's ``now`` itself: a write handed on at once (a message
    without uploads) takes no task and no coroutine (issue 19,
    bench/journal/perf-loop.md, "the event loop's cost per message")."""

    async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
        rest = now(req_id, data)
        if rest is not None:
            await rest

    setattr(handle, "now", now)  # noqa: B010 - an attribute of a function
    return _validating(model, handle)

