"""The client's people: profiles (one's own and others'), friends and
blocks (docs/friends.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tidings.sdk.connection import as_dict
from tidings.sdk.session import Session


class PeopleMethods(Session):
    """Mixed into :class:`tidings.sdk.Client`."""

    async def profile(self) -> dict[str, Any]:
        """The user's own profile (fields as in docs/profiles.md)."""
        data: dict[str, Any] = await self._call("profile_get", {}, as_dict, self.request_timeout)
        return data

    async def profiles(self, user_ids: Sequence[str]) -> dict[str, Any]:
        """Other users' profiles: ``{"profiles": [...], "missing": [...]}``."""
        data: dict[str, Any] = await self._call("profile_get", {"user_ids": list(user_ids)},
                                                as_dict, self.request_timeout)
        return data

    async def set_profile(self, **fields: Any) -> dict[str, Any]:
        """Change the user's personal fields (gender, birthday, location,
        signature, language, allow_type); answers the whole new profile."""
        data: dict[str, Any] = await self._call("profile_set", fields, as_dict,
                                                self.request_timeout)
        return data

    async def add_friend(self, user_id: str, wording: str = "", *, source: str = "",
                         remark: str = "") -> str:
        """Ask ``user_id`` to be friends: ``"added"``, ``"pending"`` or
        ``"friends"`` (already)."""
        data = await self._op("friend_add", {"user_id": user_id, "wording": wording,
                                             "source": source, "remark": remark})
        return str(data["result"])

    async def friend_requests(self) -> dict[str, Any]:
        """Pending requests: ``{"incoming": [...], "outgoing": [...]}``."""
        return await self._op("friend_requests", {})

    async def accept_friend(self, user_id: str, remark: str = "") -> dict[str, Any]:
        return await self._op("friend_accept", {"user_id": user_id, "remark": remark})

    async def decline_friend(self, user_id: str) -> None:
        await self._op("friend_decline", {"user_id": user_id})

    async def withdraw_friend_request(self, user_id: str) -> None:
        await self._op("friend_withdraw", {"user_id": user_id})

    async def friends(self) -> list[dict[str, Any]]:
        return list((await self._op("friends", {}))["friends"])

    async def set_friend_remark(self, user_id: str, remark: str) -> dict[str, Any]:
        return await self._op("friend_remark", {"user_id": user_id, "remark": remark})

    async def delete_friends(self, user_ids: Sequence[str], *,
                             both: bool = True) -> dict[str, Any]:
        return await self._op("friend_delete", {"user_ids": list(user_ids), "both": both})

    async def block(self, user_ids: Sequence[str]) -> dict[str, Any]:
        return await self._op("block", {"user_ids": list(user_ids)})

    async def unblock(self, user_ids: Sequence[str]) -> dict[str, Any]:
        return await self._op("unblock", {"user_ids": list(user_ids)})

    async def blocklist(self) -> list[str]:
        return [b["user_id"] for b in (await self._op("blocklist", {}))["blocked"]]
