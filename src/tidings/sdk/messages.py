"""The client's messages: sending (with its ack), the stream of incoming
entries, recall and edit, history, the read cursor, and search."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from tidings.sdk._ids import new_client_msg_id
from tidings.sdk.connection import as_dict
from tidings.sdk.models import (
    Ack,
    Change,
    Entry,
    HistoryPage,
    Message,
    ReadState,
    SearchPage,
    SearchResult,
)
from tidings.sdk.session import ClientClosed, End, Session


class MessageMethods(Session):
    """Mixed into :class:`tidings.sdk.Client`."""

    async def send(self, conversation_id: str, elements: Sequence[Mapping[str, Any]],
                   cloud_custom_data: str = "", *, client_msg_id: str | None = None,
                   offline_push: Mapping[str, Any] | None = None) -> Ack:
        """Send a message; answers once the server stored it. Waits through a
        reconnection, up to ``send_timeout`` (or wrap it in ``asyncio.timeout``);
        a retry with the same ``client_msg_id`` is never stored twice.
        ``offline_push``: title, text, ext, disabled (docs/push.md)."""
        msg_id = client_msg_id or new_client_msg_id()
        data: dict[str, Any] = {"conversation_id": conversation_id, "client_msg_id": msg_id,
                                "elements": [dict(e) for e in elements],
                                "cloud_custom_data": cloud_custom_data}
        if offline_push is not None:
            data["offline_push"] = dict(offline_push)
        self._outbox.add(msg_id)
        try:
            return await self._call("send", data, self._on_ack, self.send_timeout)
        finally:
            self._outbox.discard(msg_id)

    async def send_text(self, conversation_id: str, text: str, *, cloud_custom_data: str = "",
                        client_msg_id: str | None = None,
                        offline_push: Mapping[str, Any] | None = None) -> Ack:
        return await self.send(conversation_id, [{"type": "text", "text": text}],
                               cloud_custom_data, client_msg_id=client_msg_id,
                               offline_push=offline_push)

    async def reply_text(self, conversation_id: str, seq: int, text: str, *,
                         client_msg_id: str | None = None) -> Ack:
        """Reply to message ``seq`` of the conversation, quoting it."""
        return await self.send(conversation_id, [{"type": "quote", "seq": seq},
                                                 {"type": "text", "text": text}],
                               client_msg_id=client_msg_id)

    async def entries(self) -> AsyncIterator[Entry]:
        """Incoming entries, each once, in seq order per conversation: messages
        (the user's own from other devices too) and changes (recalls and
        edits of earlier messages, the user's own from other devices too).
        Ends when the client is closed; raises the error if the client cannot
        log in any more. Read entries() or messages(), not both."""
        while True:
            item = await self._inbox.get()
            if isinstance(item, End):
                self._inbox.put_nowait(item)  # later readers end too
                if self._failure is not None:
                    raise self._copy_failure()
                return
            yield item

    async def messages(self) -> AsyncIterator[Message]:
        """Incoming messages, as :meth:`entries` without the changes (see
        ``on_change`` for those)."""
        async for item in self.entries():
            if isinstance(item, Message):
                yield item

    async def next_message(self) -> Message:
        """The next incoming message (wrap it in ``asyncio.timeout`` to bound
        the wait); raises :class:`ClientClosed` once the client is closed."""
        while True:
            item = await self._inbox.get()
            if isinstance(item, End):
                self._inbox.put_nowait(item)
                if self._failure is not None:
                    raise self._copy_failure()
                raise ClientClosed("the client is closed")
            if isinstance(item, Message):
                return item

    async def recall(self, conversation_id: str, seq: int) -> Change:
        """Recall one's own message (within the server's recall window, 120 s
        by default). Answers the change once stored; a message recalled before
        answers that first recall with ``duplicate`` set."""
        return await self._call("recall", {"conversation_id": conversation_id, "seq": seq},
                                self._on_change_ack, self.send_timeout)

    async def edit(self, conversation_id: str, seq: int,
                   elements: Sequence[Mapping[str, Any]] | None = None,
                   cloud_custom_data: str | None = None) -> Change:
        """Replace the elements and/or the custom data of one's own message."""
        data: dict[str, Any] = {"conversation_id": conversation_id, "seq": seq}
        if elements is not None:
            data["elements"] = [dict(e) for e in elements]
        if cloud_custom_data is not None:
            data["cloud_custom_data"] = cloud_custom_data
        return await self._call("edit", data, self._on_change_ack, self.send_timeout)

    async def history(self, conversation_id: str, before_seq: int | None = None,
                      limit: int = 50, *, around_seq: int | None = None) -> HistoryPage:
        """Messages older than ``before_seq`` (the newest page without it);
        or, with ``around_seq`` instead, the page around that message."""
        request: dict[str, Any] = {"conversation_id": conversation_id,
                                   "before_seq": before_seq, "limit": limit}
        if around_seq is not None:
            request["around_seq"] = around_seq
        data = await self._call("history", request, as_dict, self.request_timeout)
        return HistoryPage([Message.from_dict(m) for m in data["messages"]], bool(data["more"]),
                           bool(data.get("newer", False)))

    async def mark_read(self, conversation_id: str, seq: int | None = None) -> ReadState:
        """Move the read cursor to ``seq`` (the newest message without it)."""
        data = await self._call("read", {"conversation_id": conversation_id, "seq": seq},
                                as_dict, self.request_timeout)
        return ReadState.from_dict(data)

    async def search(self, q: str, *, conversation_id: str | None = None,
                     sender: str | None = None, since: int | None = None,
                     until: int | None = None, cursor: str | None = None,
                     limit: int | None = None) -> SearchPage:
        """Messages of this user's conversations that contain every word of
        ``q`` (ignoring case), newest first; narrowed by conversation, sender
        and time (``since`` <= time < ``until``, ms)."""
        data = await self._op("search", {
            "q": q, "conversation_id": conversation_id, "sender": sender, "since": since,
            "until": until, "cursor": cursor, "limit": limit})
        return SearchPage([SearchResult.from_dict(r) for r in data["results"]],
                          bool(data["more"]), data.get("cursor"))

    def _on_ack(self, data: Any) -> Ack:
        ack = Ack.from_dict(data)
        self._owned(ack.conversation_id, ack.seq)
        return ack

    def _on_change_ack(self, data: Any) -> Change:
        change = Change.from_dict(data)
        if not change.duplicate:
            self._owned(change.conversation_id, change.seq)
        return change
