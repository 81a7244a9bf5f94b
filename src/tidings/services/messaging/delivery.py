"""Delivery: the writer's commit hook. Right after each commit, in seq
order, the sender's ack and the live frames to every member's connected
devices (a one-to-one entry rendered per viewer, a group entry encoded once
for all), and a wake-up for the callback dispatcher when the batch queued
an after-send or after-recall event."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from tidings import metrics
from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.elements import EntryKind
from tidings.domain.ids import ConversationKey, Identity
from tidings.domain.records import Committed, NewChange, NewMessage, StoredMessage
from tidings.protocol.frames import event_frame, message_event
from tidings.protocol.views import change_view, system_view

if TYPE_CHECKING:
    from tidings.services.callbacks import CallbackService


# One-to-one conversations whose members' identities are kept; past this
# many the map starts again.
KNOWN_PAIRS = 4096


def _change_frame(entry: StoredMessage, viewer: str) -> bytes:
    return event_frame("change", change_view(entry, viewer))


class Delivery:
    def __init__(self, bus: LocalBus) -> None:
        self._bus = bus
        self._callbacks: CallbackService | None = None
        # A conversation's members as the bus' identities: built for each
        # message they cost ~0.6-0.9 us apiece, two per one-to-one message
        # (issue 19). By the conversation's number: an int hashes in C, a
        # ``ConversationKey`` by a Python ``__hash__``.
        self._members: dict[int, tuple[Identity, ...]] = {}

    def bind(self, callbacks: CallbackService | None) -> None:
        self._callbacks = callbacks

    def on_commit(self, batch: list[Committed]) -> None:
        """Runs right after each commit, in seq order: acks (every entry's,
        a repeated one's too) and live frames (``message`` for a message,
        ``change`` for a recall or an edit)."""
        after_send = False
        # Counted per batch (metrics.py): (entry kind, conversation kind) ->
        # entries, entry kind -> frames handed to devices.
        entries: dict[tuple[int, str], int] = {}
        frames: dict[int, int] = {}
        for committed in batch:
            origin = committed.request.origin
            if committed.duplicate:
                # A resend found stored, a recall repeated: its ack alone.
                if origin is not None:
                    origin.ack(committed)
                continue
            request = committed.request
            if ((isinstance(request, NewMessage) and request.after_send is not None)
                    or (isinstance(request, NewChange) and request.after_recall)):
                after_send = True
            msg = committed.message
            if origin is not None:
                origin.ack(committed)
            skip = origin.device if origin is not None else None
            what = (msg.kind, msg.key.kind)
            entries[what] = entries.get(what, 0) + 1
            if committed.recipients is not None:
                reached = self._fan_out(msg, committed.recipients, skip)
            else:
                members = self._members.get(msg.conversation_id)
                if members is None:
                    members = self._identities(msg.conversation_id, msg.key)
                reached = self._bus.deliver_each(
                    members, partial(_change_frame if msg.kind else message_event, msg),
                    conversation_id=msg.conversation_id, seq=msg.seq, skip=skip)
            frames[msg.kind] = frames.get(msg.kind, 0) + reached
        if after_send and self._callbacks is not None:
            self._callbacks.wake()
        for (kind, conversation), count in entries.items():
            metrics.ENTRY_COUNTERS[metrics.ENTRY_KINDS[kind], conversation].inc(count)
        for kind, count in frames.items():
            if count:
                metrics.DELIVERED_COUNTERS[metrics.ENTRY_KINDS[kind]].inc(count)

    def _identities(self, conversation_id: int, key: ConversationKey
                    ) -> tuple[Identity, ...]:
        if len(self._members) >= KNOWN_PAIRS:
            self._members.clear()
        members = self._members[conversation_id] = tuple(Identity(key.sdkappid, user)
                                             for user in key.members())
        return members

    def _fan_out(self, msg: StoredMessage, members: Iterable[str],
                 skip: Subscriber | None) -> int:
        """A group entry to every connected member: one frame for all (a
        group's conversation id is the same for every member), and nothing
        at all for the members who are not connected. Returns how many
        devices got it."""
        if msg.kind == EntryKind.SYSTEM:
            frame = event_frame("system", system_view(msg))
        elif msg.kind:
            frame = _change_frame(msg, "")
        else:
            frame = message_event(msg, "")
        return self._bus.deliver_many(msg.key.sdkappid, members, frame,
                                      conversation_id=msg.conversation_id, seq=msg.seq,
                                      skip=skip)
