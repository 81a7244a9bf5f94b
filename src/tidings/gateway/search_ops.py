"""The ``search`` op of the real-time protocol (docs/search.md)."""

from __future__ import annotations

from tidings.domain.search import SearchIn
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, op


def handlers(ctx: OpContext) -> dict[str, Handler]:
    return {"search": op(ctx, SearchIn, ctx.runtime.search.search)}
