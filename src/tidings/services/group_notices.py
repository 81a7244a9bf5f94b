"""Group system notifications (Tencent's send_group_system_notification):
the app's server tells a group's members, all or some, a text. Live only,
as Tencent's: stored nowhere, an event to the members' open connections
(``group_system_notification``); a member offline does not get it later."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tidings.bus.local import LocalBus
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.groups import GroupType
from tidings.domain.ids import ConversationKey, Identity, check_user_id
from tidings.protocol.frames import event_frame
from tidings.services.groups import GroupService
from tidings.store.groups import GroupStore

MAX_RECIPIENTS = 500
MAX_CONTENT_BYTES = 12_000
_PAGE = 1000


class GroupNoticeService:
    def __init__(self, store: GroupStore, groups: GroupService, bus: LocalBus) -> None:
        self._store = store
        self._groups = groups
        self._bus = bus

    async def notify(self, sdkappid: int, group_id: str, content: str,
                     to: Sequence[str] = ()) -> dict[str, Any]:
        """Tell the members (``to``: only those of them; empty: all) the
        ``content``. Answers how many members it was for."""
        key = self._groups.key(sdkappid, group_id)
        if not content or len(content.encode()) > MAX_CONTENT_BYTES:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"content: 1 to {MAX_CONTENT_BYTES} bytes")
        if len(to) > MAX_RECIPIENTS:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"at most {MAX_RECIPIENTS} recipients")
        asked = [check_user_id(u) for u in dict.fromkeys(to)]
        info = await self._groups.info(sdkappid, group_id)  # 10010: no such group
        if info["type"] == GroupType.LIVE.value:
            # Its members are connections, not rows: not supported yet.
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "system notifications to Live groups are not supported yet")
        members = ([u for u in asked if await self._store.member(key, u) is not None]
                   if asked else await self._all(key))
        frame = event_frame("group_system_notification", {
            "group_id": key.a, "conversation_id": f"group_{key.a}", "content": content,
            "time": now_ms()})
        for user in members:
            self._bus.deliver(Identity(sdkappid, user), frame)
        return {"group_id": key.a, "members": len(members)}

    async def _all(self, key: ConversationKey) -> list[str]:
        found: list[str] = []
        after = ""
        while True:
            page = await self._store.members(key, after=after, limit=_PAGE)
            found.extend(m["user_id"] for m in page)
            if len(page) < _PAGE:
                return found
            after = page[-1]["user_id"]
