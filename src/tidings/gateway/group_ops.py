"""The group ops of the real-time protocol (docs/protocol.md, "Groups"):
each parses its data, calls the groups service as the logged-in user, and
answers; the change itself reaches the members as a ``system`` event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

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
from tidings.gateway import frames
from tidings.gateway.frames import RequestId

if TYPE_CHECKING:
    from tidings.gateway.session import Session

Handler = Callable[[RequestId, dict[str, Any]], Awaitable[None]]


def handlers(session: Session) -> dict[str, Handler]:
    groups = session.runtime.groups
    receipts = session.runtime.group_receipts

    def op(run: Callable[[int, str, dict[str, Any]], Awaitable[dict[str, Any]]]) -> Handler:
        async def handle(req_id: RequestId, data: dict[str, Any]) -> None:
            me = session.me()
            session.reply(frames.ok(req_id, await run(me.sdkappid, me.user_id, data)))
        return handle

    async def create(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupCreateRequest.model_validate(data)
        return await groups.create(app, me, type=r.group_type(), group_id=r.group_id,
                                   owner=None, members=r.members, profile=r.profile(),
                                   join_option=join_option(r.join_option))

    async def join(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        return await groups.join(app, me, GroupIdRequest.model_validate(data).group_id)

    async def leave(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        return await groups.leave(app, me, GroupIdRequest.model_validate(data).group_id)

    async def invite(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupUsersRequest.model_validate(data)
        return await groups.invite(app, me, r.group_id, r.user_ids)

    async def kick(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupUsersRequest.model_validate(data)
        return await groups.kick(app, me, r.group_id, r.user_ids)

    async def set_role(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupSetRoleRequest.model_validate(data)
        return await groups.set_role(app, me, r.group_id, r.user_id, r.role)

    async def transfer(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupTransferRequest.model_validate(data)
        return await groups.transfer(app, me, r.group_id, r.new_owner)

    async def mute(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupMuteRequest.model_validate(data)
        return await groups.mute(app, me, r.group_id, r.user_id, r.seconds)

    async def mute_all(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupMuteAllRequest.model_validate(data)
        return await groups.mute_all(app, me, r.group_id, r.mute_all)

    async def update(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupUpdateRequest.model_validate(data)
        return await groups.update(app, me, r.group_id, r.profile(), join_option(r.join_option))

    async def name_card(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupNameCardRequest.model_validate(data)
        return await groups.set_name_card(app, me, r.group_id, r.user_id or me, r.name_card)

    async def disband(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        return await groups.disband(app, me, GroupIdRequest.model_validate(data).group_id)

    async def info(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        return await groups.info(app, GroupIdRequest.model_validate(data).group_id)

    async def members(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupMembersRequest.model_validate(data)
        return await groups.members(app, me, r.group_id, after=r.after, limit=r.limit)

    async def joined(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        Empty.model_validate(data)
        return await groups.joined(app, me)

    async def group_receipts(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupReceiptsRequest.model_validate(data)
        return await receipts.receipts(groups.key(app, r.group_id), me, r.seqs)

    async def group_readers(app: int, me: str, data: dict[str, Any]) -> dict[str, Any]:
        r = GroupReadersRequest.model_validate(data)
        return await receipts.readers(groups.key(app, r.group_id), me, r.seq, read=r.read,
                                      after=r.after, limit=r.limit)

    return {name: op(run) for name, run in {
        "group_create": create, "group_join": join, "group_leave": leave,
        "group_invite": invite, "group_kick": kick, "group_set_role": set_role,
        "group_transfer": transfer, "group_mute": mute, "group_mute_all": mute_all,
        "group_update": update, "group_set_name_card": name_card,
        "group_disband": disband, "group_info": info, "group_members": members,
        "group_list": joined, "group_receipts": group_receipts,
        "group_readers": group_readers,
    }.items()}
