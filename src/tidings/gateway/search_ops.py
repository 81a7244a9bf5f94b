"""The ``search`` op of the real-time protocol (docs/protocol.md, "Search")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tidings.domain.search import SearchIn
from tidings.gateway import frames
from tidings.gateway.frames import RequestId

if TYPE_CHECKING:
    from tidings.gateway.session import Session

Handler = Callable[[RequestId, dict[str, Any]], Awaitable[None]]


def handlers(session: Session) -> dict[str, Handler]:
    async def search(req_id: RequestId, data: dict[str, Any]) -> None:
        request = SearchIn.model_validate(data)
        session.reply(frames.ok(req_id, await session.runtime.search.search(
            session.me(), request)))

    return {"search": search}
