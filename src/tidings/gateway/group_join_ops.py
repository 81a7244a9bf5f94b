"""The join-application ops of the real-time protocol (docs/groups.md,
"Join applications"): each parses its data, calls the join service as the
logged-in user, and answers; the owner, the admins and the applicant learn
of a change by the ``group_join_request`` and ``group_join_request_handled``
events (the acting device excepted)."""

from __future__ import annotations

from typing import Any

from tidings.domain.group_joins import (
    GroupApplyRequest,
    GroupJoinAnswerRequest,
    GroupJoinRequestsRequest,
)
from tidings.domain.group_requests import Empty
from tidings.domain.ids import Identity
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, op


def handlers(ctx: OpContext) -> dict[str, Handler]:
    joins = ctx.runtime.group_joins

    async def apply(me: Identity, r: GroupApplyRequest) -> dict[str, Any]:
        return await joins.apply(me, r.group_id, r.message, skip=ctx,
                                 platform=ctx.platform,
                                 client_ip=ctx.client_ip)

    def answer(approve: bool) -> Handler:
        return op(ctx, GroupJoinAnswerRequest, lambda me, r: joins.answer(
            me.sdkappid, me.user_id, r.group_id, r.user_id, approve, skip=ctx))

    return {
        "group_apply": op(ctx, GroupApplyRequest, apply),
        "group_join_approve": answer(True),
        "group_join_decline": answer(False),
        "group_join_requests": op(ctx, GroupJoinRequestsRequest, lambda me, r: (
            joins.pending(me.sdkappid, me.user_id, r.group_id))),
        "group_applications": op(ctx, Empty, lambda me, r: joins.mine(me)),
    }
