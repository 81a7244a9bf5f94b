"""Changes to a sent message: its sender recalls or edits it within the
window of the change's kind, the app's admin any message at any time. A
change is an entry of its own in the conversation (the next seq), written
by the writer and delivered like a message (``change`` events)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tidings.domain.callbacks import Event
from tidings.domain.elements import EntryKind
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import (
    MAX_SEQ,
    ConversationKind,
    Identity,
    parse_conversation_id,
    parse_msg_id,
)
from tidings.domain.records import Committed, NewChange
from tidings.services.messaging.context import AckTarget
from tidings.store.messages import MessageStore
from tidings.store.writer import MessageWriter

if TYPE_CHECKING:
    from tidings.services.callbacks import CallbackService


class Changes:
    def __init__(self, store: MessageStore, max_message_bytes: int, *,
                 recall_window: float, edit_window: float) -> None:
        self._store = store
        self._max_message_bytes = max_message_bytes
        self._windows_ms = {EntryKind.RECALL: round(recall_window * 1000),
                            EntryKind.EDIT: round(edit_window * 1000)}
        self._writer: MessageWriter | None = None
        self._callbacks: CallbackService | None = None

    def bind(self, writer: MessageWriter, callbacks: CallbackService | None) -> None:
        self._writer = writer
        self._callbacks = callbacks

    def submit_change(self, actor: Identity, conversation_id: str, seq: int, kind: EntryKind,
                      elements_json: bytes | None = None, cloud_custom_data: str | None = None,
                      origin: AckTarget | None = None) -> asyncio.Future[Committed]:
        """The sender recalls or edits their own message ``seq``, within the
        window of its kind. The future resolves with the change entry once it
        is durable (``duplicate`` for a message recalled before)."""
        key = parse_conversation_id(actor, conversation_id)
        if key.a == key.b:
            raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                               "a one-to-one conversation needs two different users")
        return self._queue_change(NewChange(
            key, self._target_seq(seq), kind, f"user:{actor.user_id}",
            *self._edit_content(kind, elements_json, cloud_custom_data),
            sender=actor.user_id, window_ms=self._windows_ms[kind],
            max_bytes=self._max_message_bytes, origin=origin,
            actor=actor.user_id if key.kind is ConversationKind.GROUP else None))

    async def change(self, actor: Identity, conversation_id: str, seq: int, kind: EntryKind,
                     elements_json: bytes | None = None,
                     cloud_custom_data: str | None = None) -> Committed:
        return await asyncio.shield(self.submit_change(actor, conversation_id, seq, kind,
                                                       elements_json, cloud_custom_data))

    async def admin_change(self, sdkappid: int, actor: str, msg_id: str, kind: EntryKind,
                           elements_json: bytes | None = None,
                           cloud_custom_data: str | None = None) -> Committed:
        """An app's admin recalls or edits any message of the app: no window,
        whoever sent it. Another app's message is "not found"."""
        conversation_number, seq = parse_msg_id(msg_id)
        content = self._edit_content(kind, elements_json, cloud_custom_data)
        key = await self._store.conversation_key(sdkappid, conversation_number)
        if key is None:
            raise TidingsError(ErrorCode.MESSAGE_NOT_FOUND, f"no message {msg_id!r}")
        return await asyncio.shield(self._queue_change(NewChange(
            key, seq, kind, f"admin:{actor}", *content, max_bytes=self._max_message_bytes)))

    def _target_seq(self, seq: int) -> int:
        if seq < 1:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "seq must be 1 or more")
        if seq > MAX_SEQ:
            raise TidingsError(ErrorCode.MESSAGE_NOT_FOUND,
                               f"no message with seq {seq} in this conversation")
        return seq

    def _edit_content(self, kind: EntryKind, elements_json: bytes | None,
                      cloud_custom_data: str | None) -> tuple[str | None, str | None]:
        if kind is not EntryKind.EDIT:
            return None, None
        if elements_json is None and cloud_custom_data is None:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "an edit needs elements, cloud_custom_data or both")
        size = len(elements_json or b"") + len((cloud_custom_data or "").encode())
        if size > self._max_message_bytes:
            raise TidingsError(ErrorCode.MESSAGE_TOO_LONG,
                               f"message is {size} bytes; the limit is {self._max_message_bytes}")
        return (None if elements_json is None else elements_json.decode()), cloud_custom_data

    def _queue_change(self, change: NewChange) -> asyncio.Future[Committed]:
        if self._writer is None:
            raise TidingsError(ErrorCode.SERVICE_UNAVAILABLE, "the server is starting")
        if (change.kind is EntryKind.RECALL and change.key.kind is ConversationKind.C2C
                and self._callbacks is not None):
            # Settings not read yet in this process: write the row anyway;
            # the dispatcher skips it if the app has the event off.
            known, settings = self._callbacks.cached(change.key.sdkappid)
            change.after_recall = not known or self._callbacks.wants(settings,
                                                                     Event.AFTER_RECALL)
        # Answered by the writer's hooks: its ack (a repeated recall's too)
        # by the commit hook, a refusal by the refusal hook.
        return self._writer.submit(change)
