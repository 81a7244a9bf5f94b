"""Reactions: an emoji per user per message, added and removed by the
members of the conversation; every change reaches the members' connected
devices as a ``reaction`` event (both sides of a one-to-one conversation,
every member of a group), and history and sync show who reacted with what."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.clock import now_ms
from tidings.domain.elements import EntryKind, MessageState
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.friends import Verdict
from tidings.domain.ids import (
    MAX_SEQ,
    ConversationKey,
    ConversationKind,
    Identity,
    parse_conversation_id,
)
from tidings.protocol.frames import event_frame
from tidings.services.friends import Relations
from tidings.store.messages import MessageStore
from tidings.store.reactions import ReactionStore
from tidings.store.writer import MessageWriter

MAX_PER_USER = 20


class ReactionService:
    def __init__(self, store: ReactionStore, messages: MessageStore, relations: Relations,
                 bus: LocalBus, writer: MessageWriter) -> None:
        self._store = store
        self._messages = messages
        self._relations = relations
        self._bus = bus
        self._writer = writer

    async def react(self, me: Identity, conversation_id: str, seq: int, emoji: str,
                    add: bool, skip: Subscriber | None = None) -> dict[str, Any]:
        key = parse_conversation_id(me, conversation_id)
        if key.a == key.b:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               "a one-to-one conversation needs two different users")
        if not emoji.strip() or len(emoji) > 32:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "emoji: 1 to 32 characters")
        missing = TidingsError(ErrorCode.MESSAGE_NOT_FOUND,
                               f"no message with seq {seq} in this conversation")
        if not 0 < seq <= MAX_SEQ:
            raise missing
        group = key.kind is ConversationKind.GROUP
        found = await self._messages.membership(key, me.user_id)
        if found is None and group:
            if await self._messages.group_exists(key):
                raise TidingsError(ErrorCode.NOT_A_MEMBER, "you are not a member of this group")
            raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
        if found is not None and seq <= found.visible_after:
            raise missing  # before the member joined: not theirs to see
        rows = [] if found is None else await self._messages.page(
            found.conversation_id, key, after_seq=seq - 1, up_to_seq=seq, limit=1)
        if found is None or not rows or rows[0].kind != EntryKind.MESSAGE:
            raise missing
        if add and rows[0].state == MessageState.RECALLED:
            raise TidingsError(ErrorCode.MESSAGE_RECALLED, "the message was recalled")
        answer = {"conversation_id": conversation_id, "seq": seq, "emoji": emoji,
                  "action": "add" if add else "remove"}
        peer = key.b if me.user_id == key.a else key.a
        if add and not group:
            # The rules of sending apply: a non-friend (where friendship is
            # required) is refused, a blocked user's reaction goes nowhere.
            verdict = await self._relations.judge(me.sdkappid, me.user_id, peer)
            if isinstance(verdict, TidingsError):
                raise verdict
            if verdict == Verdict.DROP:
                return {**answer, "changed": True}
        if add:
            changed = await self._store.add(found.conversation_id, seq, me.user_id, emoji,
                                            me.sdkappid, now_ms(), MAX_PER_USER)
            if changed is None:
                raise TidingsError(ErrorCode.INVALID_REQUEST,
                                   f"at most {MAX_PER_USER} reactions per user and message")
        else:
            changed = await self._store.remove(found.conversation_id, seq, me.user_id, emoji)
        if changed:
            now = now_ms()
            for user in await self._audience(key, found.conversation_id):
                self._bus.deliver(Identity(me.sdkappid, user), event_frame("reaction", {
                    "conversation_id": key.id_for(user), "seq": seq, "user_id": me.user_id,
                    "emoji": emoji, "action": answer["action"], "time": now}),
                    skip=skip)
        return {**answer, "changed": changed}

    async def _audience(self, key: ConversationKey, conversation_id: int) -> Iterable[str]:
        if key.kind is not ConversationKind.GROUP:
            return key.members()
        # A group's members, from the writer's memory when it holds the group.
        members = self._writer.group_members(key)
        return members if members is not None else await self._messages.member_ids(
            conversation_id)
