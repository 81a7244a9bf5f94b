"""The Live-group ops of the real-time protocol (docs/protocol.md, "Live
groups"): join and leave a room on this connection, send to it, list who is
in it. The room's messages reach its other connections as ``live_message``
events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tidings.domain.live import LiveGroupRequest, LiveMembersRequest, LiveSendRequest, Priority
from tidings.gateway import frames
from tidings.gateway.frames import RequestId

if TYPE_CHECKING:
    from tidings.gateway.session import Session

Handler = Callable[[RequestId, dict[str, Any]], Awaitable[None]]


def handlers(session: Session) -> dict[str, Handler]:
    live = session.runtime.live

    async def join(req_id: RequestId, data: dict[str, Any]) -> None:
        r = LiveGroupRequest.model_validate(data)
        session.reply(frames.ok(req_id, await live.join(session.me(), session, r.group_id)))

    async def leave(req_id: RequestId, data: dict[str, Any]) -> None:
        r = LiveGroupRequest.model_validate(data)
        session.reply(frames.ok(req_id, live.leave(session.me(), session, r.group_id)))

    async def send(req_id: RequestId, data: dict[str, Any]) -> None:
        r = LiveSendRequest.model_validate(data)
        session.reply(frames.ok(req_id, live.send(
            session.me(), session, r.group_id, r.client_msg_id, r.elements_json(),
            r.cloud_custom_data, Priority(r.priority))))

    async def members(req_id: RequestId, data: dict[str, Any]) -> None:
        r = LiveMembersRequest.model_validate(data)
        session.reply(frames.ok(req_id, live.members(session.me(), session, r.group_id,
                                                     r.limit)))

    return {"live_join": join, "live_leave": leave, "live_send": send,
            "live_members": members}
