"""Typing indicators: an ephemeral event to the peer's live devices, never
stored, at most one per user and conversation every ``min_interval``
seconds (more are answered but not forwarded)."""

from __future__ import annotations

import time
from typing import Any

from tidings.bus.local import LocalBus
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import Verdict
from tidings.domain.ids import (
    ConversationKey,
    ConversationKind,
    Identity,
    parse_conversation_id,
)
from tidings.protocol.frames import event_frame
from tidings.services.friends import Relations

MIN_INTERVAL = 1.0
_MEMORY = 100_000


class TypingService:
    def __init__(self, bus: LocalBus, relations: Relations,
                 min_interval: float = MIN_INTERVAL) -> None:
        self._bus = bus
        self._relations = relations
        self._min_interval = min_interval
        self._last: dict[tuple[str, ConversationKey], float] = {}

    async def typing(self, me: Identity, conversation_id: str,
                     typing: bool) -> dict[str, Any]:
        """Tell the peer's live devices. ``throttled``: too soon after the
        last one, nothing was sent. A peer who blocks the caller (or, where
        the app requires friendship, a non-friend) is silently not told."""
        key = parse_conversation_id(me, conversation_id)
        if key.kind is ConversationKind.GROUP:
            # As in Tencent's IM and most messengers: a crowd typing is noise.
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               "typing indicators are for one-to-one conversations")
        if key.a == key.b:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               "a one-to-one conversation needs two different users")
        peer = key.b if me.user_id == key.a else key.a
        now = time.monotonic()
        lane = (me.user_id, key)
        last = self._last.get(lane)
        # "Stopped typing" always goes through: it ends an indicator.
        if typing and last is not None and now - last < self._min_interval:
            return {"conversation_id": conversation_id, "throttled": True}
        verdict = await self._relations.judge(me.sdkappid, me.user_id, peer)
        if len(self._last) >= _MEMORY:
            self._last.clear()
        self._last[lane] = now
        if verdict == Verdict.PASS:
            self._bus.deliver(Identity(me.sdkappid, peer), event_frame("typing", {
                "conversation_id": key.id_for(peer), "user_id": me.user_id,
                "typing": typing}))
        return {"conversation_id": conversation_id, "throttled": False}
