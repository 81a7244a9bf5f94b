"""The Live-group ops of the real-time protocol (docs/protocol.md, "Live
groups"): join and leave a room on this connection, send to it, list who is
in it. The room's messages reach its other connections as ``live_message``
events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.domain.live import LiveGroupRequest, LiveMembersRequest, LiveSendRequest, Priority
from tidings.gateway.ops import Handler, op

if TYPE_CHECKING:
    from tidings.gateway.session import Session


def handlers(session: Session) -> dict[str, Handler]:
    live = session.runtime.live
    return {
        "live_join": op(session, LiveGroupRequest,
                        lambda me, r: live.join(me, session, r.group_id)),
        "live_leave": op(session, LiveGroupRequest,
                         lambda me, r: live.leave(me, session, r.group_id)),
        "live_send": op(session, LiveSendRequest, lambda me, r: live.send(
            me, session, r.group_id, r.client_msg_id, r.elements_json(),
            r.cloud_custom_data, Priority(r.priority))),
        "live_members": op(session, LiveMembersRequest,
                           lambda me, r: live.members(me, session, r.group_id, r.limit)),
    }
