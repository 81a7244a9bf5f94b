"""The friend ops of the real-time protocol (docs/friends.md):
requests and their answers, the friend list and remarks, and the blocklist.
The other side and the caller's other devices learn of a change by its event
(the acting device excepted)."""

from __future__ import annotations

from tidings.domain.friends import FriendDeleteIn, FriendRequestIn, UserIdsIn
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, op
from tidings.protocol import ops


def handlers(ctx: OpContext) -> dict[str, Handler]:
    friends = ctx.runtime.friends
    return {
        "friend_add": op(ctx, FriendRequestIn, lambda me, r: friends.request(
            me, r, skip=ctx, platform=ctx.platform, client_ip=ctx.client_ip)),
        "friend_requests": op(ctx, ops.Empty, lambda me, r: friends.requests(me)),
        "friend_accept": op(ctx, ops.FriendAcceptData, lambda me, r: friends.accept(
            me, r.user_id, r.remark, skip=ctx)),
        "friend_decline": op(ctx, ops.FriendUserData, lambda me, r: friends.decline(
            me, r.user_id, skip=ctx)),
        "friend_withdraw": op(ctx, ops.FriendUserData, lambda me, r: friends.withdraw(
            me, r.user_id, skip=ctx)),
        "friends": op(ctx, ops.Empty, lambda me, r: friends.friends(me.sdkappid, me.user_id)),
        "friend_remark": op(ctx, ops.FriendRemarkData, lambda me, r: friends.set_remark(
            me, r.user_id, r.remark, skip=ctx)),
        "friend_delete": op(ctx, FriendDeleteIn, lambda me, r: friends.delete(
            me, r.user_ids, r.both, skip=ctx)),
        "block": op(ctx, UserIdsIn, lambda me, r: friends.block(me, r.user_ids, skip=ctx)),
        "unblock": op(ctx, UserIdsIn, lambda me, r: friends.unblock(me, r.user_ids, skip=ctx)),
        "blocklist": op(ctx, ops.Empty, lambda me, r: friends.blocklist(me.sdkappid,
                                                                        me.user_id)),
    }
