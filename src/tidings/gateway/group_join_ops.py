"""The join-application ops of the real-time protocol (docs/protocol.md,
"Join applications"): each parses its data, calls the join service as the
logged-in user, and answers; the owner, the admins and the applicant learn
of a change by the ``group_join_request`` and ``group_join_request_handled``
events (the acting device excepted)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tidings.domain.group_joins import (
    GroupApplyRequest,
    GroupJoinAnswerRequest,
    GroupJoinRequestsRequest,
)
from tidings.domain.group_requests import Empty
from tidings.gateway import frames
from tidings.gateway.frames import RequestId

if TYPE_CHECKING:
    from tidings.gateway.session import Session

Handler = Callable[[RequestId, dict[str, Any]], Awaitable[None]]


def handlers(session: Session) -> dict[str, Handler]:
    joins = session.runtime.group_joins

    def op(run: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> Handler:
        async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
            session.reply(frames.ok(req_id, await run(data)))
        return handle

    async def apply(data: dict[str, Any]) -> dict[str, Any]:
        r = GroupApplyRequest.model_validate(data)
        return await joins.apply(session.me(), r.group_id, r.message, skip=session,
                                 platform=session.device.get("platform", ""),
                                 client_ip=session.client_ip)

    def answer(approve: bool) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
        async def run(data: dict[str, Any]) -> dict[str, Any]:
            r = GroupJoinAnswerRequest.model_validate(data)
            me = session.me()
            return await joins.answer(me.sdkappid, me.user_id, r.group_id, r.user_id, approve,
                                      skip=session)
        return run

    async def requests(data: dict[str, Any]) -> dict[str, Any]:
        r = GroupJoinRequestsRequest.model_validate(data)
        me = session.me()
        return await joins.pending(me.sdkappid, me.user_id, r.group_id)

    async def applications(data: dict[str, Any]) -> dict[str, Any]:
        Empty.model_validate(data)
        return await joins.mine(session.me())

    return {name: op(run) for name, run in {
        "group_apply": apply, "group_join_approve": answer(True),
        "group_join_decline": answer(False), "group_join_requests": requests,
        "group_applications": applications,
    }.items()}
