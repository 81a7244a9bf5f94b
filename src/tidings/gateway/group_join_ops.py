"""The join-application ops of the real-time protocol (docs/protocol.md,
"Join applications"): each parses its data, calls the join service as the
logged-in user, and answers; the owner, the admins and the applicant learn
of a change by the ``group_join_request`` and ``group_join_request_handled``
events (the acting device excepted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidings.domain.group_joins import (
    GroupApplyRequest,
    GroupJoinAnswerRequest,
    GroupJoinRequestsRequest,
)
from tidings.domain.group_requests import Empty
from tidings.domain.ids import Identity
from tidings.gateway.ops import Handler, op

if TYPE_CHECKING:
    from tidings.gateway.session import Session


def handlers(session: Session) -> dict[str, Handler]:
    joins = session.runtime.group_joins

    async def apply(me: Identity, r: GroupApplyRequest) -> dict[str, Any]:
        return await joins.apply(me, r.group_id, r.message, skip=session,
                                 platform=session.device.get("platform", ""),
                                 client_ip=session.client_ip)

    def answer(approve: bool) -> Handler:
        return op(session, GroupJoinAnswerRequest, lambda me, r: joins.answer(
            me.sdkappid, me.user_id, r.group_id, r.user_id, approve, skip=session))

    return {
        "group_apply": op(session, GroupApplyRequest, apply),
        "group_join_approve": answer(True),
        "group_join_decline": answer(False),
        "group_join_requests": op(session, GroupJoinRequestsRequest, lambda me, r: (
            joins.pending(me.sdkappid, me.user_id, r.group_id))),
        "group_applications": op(session, Empty, lambda me, r: joins.mine(me)),
    }
