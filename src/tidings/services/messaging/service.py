"""``MessagingService``: the one object that the runtime builds and the
edges call for messaging. It builds the parts of a message's life, binds
them to the writer and the other services once those exist, and gives each
public name to the part that owns it:

    sending.py   submit, send, import_message: checks, dedup, to the writer
    lanes.py     the before-send detour (callback, relations, quotes), in order
    changes.py   submit_change, change, admin_change: recall and edit
    delivery.py  on_commit: acks and live frames after each commit, fan-out
                 (with sending.py's on_commit; sending.py's on_refusal: refusals)
    reading.py   history, history_around, group_history, group_number, conversations,
                 history_views, and what reads share (limit, decoration)
    sync.py      sync: what a device missed
    reads.py     mark_read (receipts, after-read), unread

A public name is the part's own bound method, not a wrapper around it, so
the hot path (``submit``, ``on_commit``) costs no extra call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.bus.local import LocalBus
from tidings.domain.records import Committed
from tidings.services.messaging.changes import Changes
from tidings.services.messaging.delivery import Delivery
from tidings.services.messaging.lanes import Lanes
from tidings.services.messaging.reading import Reading
from tidings.services.messaging.reads import Reads
from tidings.services.messaging.sending import Sending
from tidings.services.messaging.sync import Sync
from tidings.store.conversation_settings import ConversationSettingsStore
from tidings.store.messages import MessageStore
from tidings.store.writer import MessageWriter

if TYPE_CHECKING:
    from tidings.services.account_mutes import AccountMuteService
    from tidings.services.callbacks import CallbackService
    from tidings.services.friends import Relations
    from tidings.services.group_receipts import GroupReceiptService
    from tidings.store.reactions import ReactionStore


class MessagingService:
    """One-to-one and group messaging: send, recall and edit, deliver,
    history, conversation list, read cursors and catch-up sync. No HTTP and
    no sockets here: edges call these."""

    def __init__(self, store: MessageStore, bus: LocalBus, *, max_message_bytes: int,
                 max_page: int, max_sync_bytes: int = 1024 * 1024,
                 recall_window: float = 120.0, edit_window: float = 0.0) -> None:
        self.max_page = max_page
        self.writer: MessageWriter | None = None
        self._lanes = Lanes(store, max_message_bytes)
        self._sending = sending = Sending(max_message_bytes, self._lanes)
        self._changes = changes = Changes(store, max_message_bytes,
                                          recall_window=recall_window,
                                          edit_window=edit_window)
        self._delivery = delivery = Delivery(bus)
        self._reading = reading = Reading(store, max_page)
        self._sync = Sync(store, reading, max_page=max_page, max_sync_bytes=max_sync_bytes)
        self._reads = reads = Reads(store, bus, reading)
        # Sending.
        self.submit = sending.submit
        self.send = sending.send
        self.import_message = sending.import_message
        self.recent_ack = sending.recent_ack
        # Changes.
        self.submit_change = changes.submit_change
        self.change = changes.change
        self.admin_change = changes.admin_change
        # The writer's hooks (the runtime hands them on before bind()): a
        # commit's sends leave Sending's in-flight map, then Delivery acks
        # and delivers; a refusal is answered by Sending. The messages are
        # stored either way, so Delivery's part runs even if Sending's
        # raised (the writer logs the error): a send is never left unacked
        # for its bookkeeping's sake. A try costs nothing on 3.11 until it
        # raises.
        on_sent = sending.on_commit
        on_delivered = delivery.on_commit

        def on_commit(batch: list[Committed]) -> None:
            try:
                on_sent(batch)
            finally:
                on_delivered(batch)

        self.on_commit = on_commit
        self.on_refusal = sending.on_refusal
        # Reading.
        self.history = reading.history
        self.history_around = reading.history_around
        self.history_views = reading.history_views
        self.group_number = reading.group_number
        self.group_history = reading.group_history
        self.conversations = reading.conversations
        self.sync = self._sync.sync
        self.mark_read = reads.mark_read
        self.unread = reads.unread

    def bind(self, writer: MessageWriter, callbacks: CallbackService | None = None,
             relations: Relations | None = None,
             settings: ConversationSettingsStore | None = None,
             reactions: ReactionStore | None = None) -> None:
        self.writer = writer
        self._lanes.bind(writer, callbacks, relations)
        self._sending.bind(writer, callbacks, relations)
        self._changes.bind(writer, callbacks)
        self._delivery.bind(callbacks)
        self._reading.bind(relations, settings, reactions)
        self._reads.bind(callbacks, relations)

    def mute_accounts(self, mutes: AccountMuteService) -> None:
        """Sends check their sender's global mute (runtime)."""
        self._sending.account_mutes = mutes

    # Set by the runtime: a group read moves the senders' receipt counts.
    @property
    def group_receipts(self) -> GroupReceiptService | None:
        return self._reads.group_receipts

    @group_receipts.setter
    def group_receipts(self, service: GroupReceiptService | None) -> None:
        self._reads.group_receipts = service
