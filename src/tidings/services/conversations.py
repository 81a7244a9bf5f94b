"""Each user's settings of their conversations: pin, mute, hide, delete
(optionally clearing the history for that user only) and drafts. Every
change reaches the user's other devices as a ``conversation_settings``
event; nothing here is seen by the peer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.clock import now_ms
from tidings.domain.conversations import ConversationPatch, ConversationSettings
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import Identity, parse_conversation_id
from tidings.protocol.frames import event_frame
from tidings.protocol.views import settings_view
from tidings.services.messaging import MessagingService
from tidings.store.conversation_settings import ConversationSettingsStore
from tidings.store.messages import Membership, MessageStore


class ConversationSettingsService:
    def __init__(self, store: ConversationSettingsStore, messages: MessageStore,
                 messaging: MessagingService, bus: LocalBus) -> None:
        self._store = store
        self._messages = messages
        self._messaging = messaging
        self._bus = bus

    async def _member(self, me: Identity, conversation_id: str) -> Membership:
        key = parse_conversation_id(me, conversation_id)
        if key.a == key.b:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               "a one-to-one conversation needs two different users")
        found = await self._messages.membership(key, me.user_id)
        if found is None:
            raise TidingsError(ErrorCode.NOT_FOUND,
                               f"no conversation {conversation_id!r} yet: nothing was said")
        return found

    async def _save(self, me: Identity, conversation_id: str, found: Membership,
                    new: ConversationSettings, skip: Subscriber | None) -> dict[str, Any]:
        await self._store.put(found.conversation_id, me.user_id, me.sdkappid, new, now_ms())
        # Hidden is judged against the newest seq: at most the newest message's.
        view = {"conversation_id": conversation_id,
                **settings_view(new, found.last_seq)}
        self._bus.deliver(me, event_frame("conversation_settings", view), skip=skip)
        return view

    async def update(self, me: Identity, conversation_id: str, patch: ConversationPatch,
                     skip: Subscriber | None = None) -> dict[str, Any]:
        """Pin, mute, or set the draft. Pinning or a draft shows a hidden
        conversation again."""
        found = await self._member(me, conversation_id)
        current = await self._store.of_one(found.conversation_id, me.user_id)
        new = current
        if patch.pinned is not None:
            new = replace(new, pinned=patch.pinned,
                          hidden_seq=None if patch.pinned else new.hidden_seq)
        if patch.muted is not None:
            new = replace(new, muted=patch.muted)
        if patch.draft is not None:
            new = replace(new, draft=patch.draft, draft_time=now_ms() if patch.draft else 0,
                          hidden_seq=None if patch.draft else new.hidden_seq)
        return await self._save(me, conversation_id, found, new, skip)

    async def hide(self, me: Identity, conversation_id: str,
                   skip: Subscriber | None = None) -> dict[str, Any]:
        """Gone from the list until a new message comes (unpinned)."""
        found = await self._member(me, conversation_id)
        current = await self._store.of_one(found.conversation_id, me.user_id)
        new = replace(current, pinned=False, hidden_seq=found.last_seq)
        return await self._save(me, conversation_id, found, new, skip)

    async def delete(self, me: Identity, conversation_id: str, clear_history: bool,
                     skip: Subscriber | None = None) -> dict[str, Any]:
        """Hide it, mark it read, drop the draft; with ``clear_history``,
        what was said up to now is gone for the caller (history, sync and the
        list show nothing at or below ``cleared_seq``; the peer keeps it)."""
        found = await self._member(me, conversation_id)
        current = await self._store.of_one(found.conversation_id, me.user_id)
        cleared = max(current.cleared_seq, found.last_seq) if clear_history else (
            current.cleared_seq)
        new = replace(current, pinned=False, hidden_seq=found.last_seq, cleared_seq=cleared,
                      draft="", draft_time=0)
        await self._messaging.mark_read(me, conversation_id, found.last_seq, skip=skip)
        return await self._save(me, conversation_id, found, new, skip)
