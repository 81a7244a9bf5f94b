"""The client's groups (docs/groups.md), join applications
("Join applications") and Live groups ("Live groups")."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from tidings.sdk.session import Session


class GroupMethods(Session):
    """Mixed into :class:`tidings.sdk.Client`."""

    async def create_group(self, type: str, *, group_id: str | None = None,
                           members: Sequence[str] = (), **profile: Any) -> dict[str, Any]:
        """Create a group the user owns (``type``: Work, Public, Meeting,
        Community); ``profile``: name, face_url, introduction, notification,
        custom, join_option."""
        data: dict[str, Any] = {"type": type, "members": list(members), **profile}
        if group_id is not None:
            data["group_id"] = group_id
        return await self._op("group_create", data)

    async def join_group(self, group_id: str) -> dict[str, Any]:
        return await self._op("group_join", {"group_id": group_id})

    async def leave_group(self, group_id: str) -> dict[str, Any]:
        return await self._op("group_leave", {"group_id": group_id})

    async def invite(self, group_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
        return await self._op("group_invite", {"group_id": group_id,
                                               "user_ids": list(user_ids)})

    async def kick(self, group_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
        return await self._op("group_kick", {"group_id": group_id,
                                             "user_ids": list(user_ids)})

    async def set_group_role(self, group_id: str, user_id: str, role: str) -> dict[str, Any]:
        """``role``: "Admin" or "Member"."""
        return await self._op("group_set_role", {"group_id": group_id, "user_id": user_id,
                                                 "role": role})

    async def transfer_group(self, group_id: str, new_owner: str) -> dict[str, Any]:
        return await self._op("group_transfer", {"group_id": group_id,
                                                 "new_owner": new_owner})

    async def mute_member(self, group_id: str, user_id: str, seconds: int) -> dict[str, Any]:
        """Mute for ``seconds`` (0 unmutes)."""
        return await self._op("group_mute", {"group_id": group_id, "user_id": user_id,
                                             "seconds": seconds})

    async def mute_group(self, group_id: str, mute_all: bool = True) -> dict[str, Any]:
        return await self._op("group_mute_all", {"group_id": group_id,
                                                 "mute_all": mute_all})

    async def update_group(self, group_id: str, **profile: Any) -> dict[str, Any]:
        return await self._op("group_update", {"group_id": group_id, **profile})

    async def set_name_card(self, group_id: str, name_card: str,
                            user_id: str | None = None) -> dict[str, Any]:
        return await self._op("group_set_name_card", {"group_id": group_id,
                                                      "user_id": user_id,
                                                      "name_card": name_card})

    async def disband_group(self, group_id: str) -> dict[str, Any]:
        return await self._op("group_disband", {"group_id": group_id})

    async def group_info(self, group_id: str) -> dict[str, Any]:
        return await self._op("group_info", {"group_id": group_id})

    async def group_members(self, group_id: str, *, after: str = "",
                            limit: int = 100) -> dict[str, Any]:
        return await self._op("group_members", {"group_id": group_id, "after": after,
                                                "limit": limit})

    async def group_receipts(self, group_id: str, seqs: list[int]) -> list[dict[str, Any]]:
        """Read and unread counts of up to 100 messages of a group (live
        updates for one's own messages come as ``group_receipts`` notices)."""
        found: list[dict[str, Any]] = (await self._op(
            "group_receipts", {"group_id": group_id, "seqs": seqs}))["receipts"]
        return found

    async def group_readers(self, group_id: str, seq: int, *, read: bool = True,
                            after: str = "", limit: int = 100) -> dict[str, Any]:
        """Who has read a message (``read=False``: who has not yet), a page."""
        return await self._op("group_readers", {"group_id": group_id, "seq": seq,
                                                "read": read, "after": after,
                                                "limit": limit})

    async def groups(self) -> list[dict[str, Any]]:
        """The groups the user is a member of."""
        found: list[dict[str, Any]] = (await self._op("group_list", {}))["groups"]
        return found

    # -- join applications (docs/groups.md, "Join applications") -------------

    async def apply_to_group(self, group_id: str, message: str = "") -> dict[str, Any]:
        """Ask to join; ``state`` "pending" (the owner and admins answer) or
        "joined" (a FreeAccess group)."""
        return await self._op("group_apply", {"group_id": group_id, "message": message})

    async def approve_join(self, group_id: str, user_id: str) -> dict[str, Any]:
        return await self._op("group_join_approve", {"group_id": group_id,
                                                     "user_id": user_id})

    async def decline_join(self, group_id: str, user_id: str) -> dict[str, Any]:
        return await self._op("group_join_decline", {"group_id": group_id,
                                                     "user_id": user_id})

    async def join_requests(self, group_id: str | None = None) -> list[dict[str, Any]]:
        """Pending applications to one group, or to every group the user
        owns or administers."""
        data = {} if group_id is None else {"group_id": group_id}
        found: list[dict[str, Any]] = (await self._op("group_join_requests", data))[
            "requests"]
        return found

    async def my_applications(self) -> list[dict[str, Any]]:
        """The user's own applications: pending, and answered in the last 7 days."""
        found: list[dict[str, Any]] = (await self._op("group_applications", {}))[
            "applications"]
        return found

    # -- Live groups (docs/groups.md, "Live groups") ----------------------------

    async def live_join(self, group_id: str) -> dict[str, Any]:
        """Join a Live group on this client's connection (and again after
        every reconnect, until :meth:`live_leave`). Its messages come to
        ``on_notice`` as ``live_message`` notices."""
        found = await self._op("live_join", {"group_id": group_id})
        self._live_rooms.add(group_id)
        return found

    async def live_leave(self, group_id: str) -> dict[str, Any]:
        self._live_rooms.discard(group_id)
        return await self._op("live_leave", {"group_id": group_id})

    async def live_send(self, group_id: str, elements: Sequence[Mapping[str, Any]], *,
                        priority: str = "Normal", cloud_custom_data: str = "",
                        client_msg_id: str | None = None) -> dict[str, Any]:
        """Send to a Live group now (not stored, not resent). Over the room's
        rate a Low or Normal message is refused with 94060 (``LIVE_ROOM_BUSY``)."""
        return await self._op("live_send", {
            "group_id": group_id, "client_msg_id": client_msg_id or uuid.uuid4().hex,
            "elements": list(elements), "cloud_custom_data": cloud_custom_data,
            "priority": priority})

    async def live_members(self, group_id: str, limit: int = 100) -> dict[str, Any]:
        return await self._op("live_members", {"group_id": group_id, "limit": limit})
