"""The Live-group ops of the real-time protocol (docs/groups.md, "Live
groups"): join and leave a room on this connection, send to it, list who is
in it. The room's messages reach its other connections as ``live_message``
events."""

from __future__ import annotations

from tidings.domain.live import LiveGroupRequest, LiveMembersRequest, LiveSendRequest, Priority
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, op


def handlers(ctx: OpContext) -> dict[str, Handler]:
    live = ctx.runtime.live
    return {
        "live_join": op(ctx, LiveGroupRequest,
                        lambda me, r: live.join(me, ctx, r.group_id)),
        "live_leave": op(ctx, LiveGroupRequest,
                         lambda me, r: live.leave(me, ctx, r.group_id)),
        "live_send": op(ctx, LiveSendRequest, lambda me, r: live.send(
            me, ctx, r.group_id, r.client_msg_id, r.elements_json(),
            r.cloud_custom_data, Priority(r.priority))),
        "live_members": op(ctx, LiveMembersRequest,
                           lambda me, r: live.members(me, ctx, r.group_id, r.limit)),
    }
