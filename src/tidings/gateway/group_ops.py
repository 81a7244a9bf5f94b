"""The group ops of the real-time protocol (docs/groups.md):
each parses its data, calls the groups service as the logged-in user, and
answers; the change itself reaches the members as a ``system`` event."""

from __future__ import annotations

from typing import Any

from tidings.domain.group_requests import (
    Empty,
    GroupCreateRequest,
    GroupIdRequest,
    GroupMembersRequest,
    GroupMuteAllRequest,
    GroupMuteRequest,
    GroupNameCardRequest,
    GroupReadersRequest,
    GroupReceiptsRequest,
    GroupSetRoleRequest,
    GroupTransferRequest,
    GroupUpdateRequest,
    GroupUsersRequest,
    join_option,
)
from tidings.domain.ids import Identity
from tidings.gateway.context import OpContext
from tidings.gateway.ops import Handler, op


def handlers(ctx: OpContext) -> dict[str, Handler]:
    groups = ctx.runtime.groups
    receipts = ctx.runtime.group_receipts

    async def create(me: Identity, r: GroupCreateRequest) -> dict[str, Any]:
        return await groups.create(me.sdkappid, me.user_id, type=r.group_type(),
                                   group_id=r.group_id, owner=None, members=r.members,
                                   profile=r.profile(), join_option=join_option(r.join_option))

    async def update(me: Identity, r: GroupUpdateRequest) -> dict[str, Any]:
        return await groups.update(me.sdkappid, me.user_id, r.group_id, r.profile(),
                                   join_option(r.join_option))

    return {
        "group_create": op(ctx, GroupCreateRequest, create),
        "group_join": op(ctx, GroupIdRequest,
                         lambda me, r: groups.join(me.sdkappid, me.user_id, r.group_id)),
        "group_leave": op(ctx, GroupIdRequest,
                          lambda me, r: groups.leave(me.sdkappid, me.user_id, r.group_id)),
        "group_invite": op(ctx, GroupUsersRequest, lambda me, r: groups.invite(
            me.sdkappid, me.user_id, r.group_id, r.user_ids)),
        "group_kick": op(ctx, GroupUsersRequest, lambda me, r: groups.kick(
            me.sdkappid, me.user_id, r.group_id, r.user_ids)),
        "group_set_role": op(ctx, GroupSetRoleRequest, lambda me, r: groups.set_role(
            me.sdkappid, me.user_id, r.group_id, r.user_id, r.role)),
        "group_transfer": op(ctx, GroupTransferRequest, lambda me, r: groups.transfer(
            me.sdkappid, me.user_id, r.group_id, r.new_owner)),
        "group_mute": op(ctx, GroupMuteRequest, lambda me, r: groups.mute(
            me.sdkappid, me.user_id, r.group_id, r.user_id, r.seconds)),
        "group_mute_all": op(ctx, GroupMuteAllRequest, lambda me, r: groups.mute_all(
            me.sdkappid, me.user_id, r.group_id, r.mute_all)),
        "group_update": op(ctx, GroupUpdateRequest, update),
        "group_set_name_card": op(ctx, GroupNameCardRequest, lambda me, r: (
            groups.set_name_card(me.sdkappid, me.user_id, r.group_id, r.user_id or me.user_id,
                                 r.name_card))),
        "group_disband": op(ctx, GroupIdRequest,
                            lambda me, r: groups.disband(me.sdkappid, me.user_id, r.group_id)),
        "group_info": op(ctx, GroupIdRequest,
                         lambda me, r: groups.info(me.sdkappid, r.group_id)),
        "group_members": op(ctx, GroupMembersRequest, lambda me, r: groups.members(
            me.sdkappid, me.user_id, r.group_id, after=r.after, limit=r.limit)),
        "group_list": op(ctx, Empty, lambda me, r: groups.joined(me.sdkappid, me.user_id)),
        "group_receipts": op(ctx, GroupReceiptsRequest, lambda me, r: receipts.receipts(
            groups.key(me.sdkappid, r.group_id), me.user_id, r.seqs)),
        "group_readers": op(ctx, GroupReadersRequest, lambda me, r: receipts.readers(
            groups.key(me.sdkappid, r.group_id), me.user_id, r.seq, read=r.read,
            after=r.after, limit=r.limit)),
    }
