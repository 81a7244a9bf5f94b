"""Read cursors: a user marks a conversation read (their other devices
learn it, the peer gets a read receipt when the app has them on, a group's
senders get their receipt counts moved, the app its after-read callback),
and the unread counts that the cursors give."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.callbacks import Event
from tidings.domain.clock import now_ms
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import ConversationKind, Identity, check_user_id, parse_conversation_id
from tidings.protocol.frames import event_frame
from tidings.services.messaging.reading import Reading
from tidings.store.messages import MessageStore

if TYPE_CHECKING:
    from tidings.services.callbacks import CallbackService
    from tidings.services.friends import Relations
    from tidings.services.group_receipts import GroupReceiptService


class Reads:
    def __init__(self, store: MessageStore, bus: LocalBus, reading: Reading) -> None:
        self._store = store
        self._bus = bus
        self._reading = reading
        self._callbacks: CallbackService | None = None
        self._relations: Relations | None = None
        # Set by the runtime: a group read moves the senders' receipt counts.
        self.group_receipts: GroupReceiptService | None = None

    def bind(self, callbacks: CallbackService | None, relations: Relations | None) -> None:
        self._callbacks = callbacks
        self._relations = relations

    async def mark_read(self, me: Identity, conversation_id: str, seq: int | None,
                        skip: Subscriber | None = None, *, platform: str = "",
                        client_ip: str = "") -> dict[str, Any]:
        """Move the cursor forward (never back). When it moved and the app
        has the after-read callback on, its event is queued in the same
        transaction."""
        key = parse_conversation_id(me, conversation_id)
        found = await self._reading.member_of(me, key)
        if found is None:
            # Nothing was ever said here: nothing to read, as history says.
            return {"conversation_id": conversation_id, "read_seq": 0, "unread": 0}
        target = found.last_seq if seq is None else min(seq, found.last_seq)
        if target < 0:
            raise TidingsError(ErrorCode.INVALID_REQUEST, "seq must not be negative")
        outbox = None
        callbacks = self._callbacks
        if callbacks is not None and callbacks.wants(await callbacks.settings(me.sdkappid),
                                                     Event.AFTER_READ):
            peer = "" if key.kind is ConversationKind.GROUP else (
                key.b if me.user_id == key.a else key.a)

            def outbox(read_seq: int, read_msg_no: int,
                       total_unread: int) -> tuple[int, str, str]:
                return (me.sdkappid, Event.AFTER_READ, orjson.dumps({
                    "user_id": me.user_id, "peer": peer, "conversation_id": conversation_id,
                    "read_seq": read_seq,
                    "unread": max(0, found.last_msg_no - read_msg_no),
                    "total_unread": total_unread, "time": now_ms(), "platform": platform,
                    "client_ip": client_ip}).decode())
        read_seq, read_msg_no = await self._store.mark_read(
            found.conversation_id, me.user_id, target, outbox=outbox)
        if outbox is not None and callbacks is not None:
            callbacks.wake()
        data = {"conversation_id": conversation_id, "read_seq": read_seq,
                "unread": max(0, found.last_msg_no - read_msg_no)}
        self._bus.deliver(me, event_frame("read", data), skip=skip)
        if key.kind is ConversationKind.GROUP:
            if read_seq > found.read_seq and self.group_receipts is not None:
                await self.group_receipts.on_read(me, key, found.conversation_id,
                                                  found.read_seq, read_seq)
        elif read_seq > found.read_seq and self._relations is not None and (
                await self._relations.rules(me.sdkappid)).read_receipts:
            # A read receipt: the peer's devices learn how far this user read.
            peer = key.b if me.user_id == key.a else key.a
            self._bus.deliver(Identity(me.sdkappid, peer), event_frame("peer_read", {
                "conversation_id": key.id_for(peer), "peer_read_seq": read_seq}))
        return data

    async def unread(self, me: Identity, peers: list[str] | None) -> dict[str, Any]:
        """The user's unread messages: in total, and per conversation (those
        with unread messages, or exactly the one-to-one conversations with
        ``peers``). One row per conversation of the user is read."""
        wanted = None if peers is None else [
            f"c2c_{check_user_id(p)}" for p in dict.fromkeys(peers)]
        states = await self._store.conversations_of(me.sdkappid, me.user_id)
        counts = {s.key.id_for(me.user_id): s.unread for s in states}
        listed = ([(c, n) for c, n in counts.items() if n > 0] if wanted is None
                  else [(c, counts.get(c, 0)) for c in wanted])
        return {"user_id": me.user_id, "total": sum(counts.values()),
                "conversations": [{"conversation_id": c, "unread": n} for c, n in listed]}
