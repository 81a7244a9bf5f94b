"""What the op modules (group_ops, live_ops, push_ops, ...) share: the shape
of a handler, and ``op``, which builds the usual one from a request model and
a call to a service."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from tidings.domain.ids import Identity
from tidings.protocol import frames
from tidings.protocol.frames import RequestId

if TYPE_CHECKING:
    from tidings.gateway.session import Session

Handler = Callable[[RequestId, dict[str, Any]], Awaitable[None]]

M = TypeVar("M", bound=BaseModel)


def op(session: Session, model: type[M], run: Callable[[Identity, M], Any]) -> Handler:
    """The handler that parses the frame's data as ``model``, calls ``run``
    as the logged-in user, and answers with what it returns (awaited when it
    is a coroutine: some services answer at once).

    A ValidationError is left to the session, which maps it with
    ``frames.invalid`` like every other op's."""

    async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
        request = model.model_validate(data)
        result = run(session.me(), request)
        if inspect.isawaitable(result):
            result = await result
        session.reply(frames.ok(req_id, result))

    return handle
