"""The ``search`` op of the real-time protocol (docs/protocol.md, "Search")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.domain.search import SearchIn
from tidings.gateway.ops import Handler, op

if TYPE_CHECKING:
    from tidings.gateway.session import Session


def handlers(session: Session) -> dict[str, Handler]:
    return {"search": op(session, SearchIn, session.runtime.search.search)}
