"""Messaging, along a message's life: sending (checks, dedup, the
before-send lanes), changes (recall, edit), delivery (the commit hook,
fan-out) and reading (history, conversations, sync, read cursors). No HTTP
and no sockets here: edges call ``MessagingService`` (service.py says which
module holds what)."""

from tidings.services.messaging.context import (
    IMPORT_CONTEXT,
    NO_CONTEXT,
    AckTarget,
    SendContext,
)
from tidings.services.messaging.service import MessagingService
from tidings.services.messaging.sync import SyncResult

__all__ = [
    "IMPORT_CONTEXT",
    "NO_CONTEXT",
    "AckTarget",
    "MessagingService",
    "SendContext",
    "SyncResult",
]
