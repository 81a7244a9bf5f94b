"""What a process must know to be one of several sharing a database: the
refusals at start (docs/cluster.md), and the names they share."""

from __future__ import annotations


class StartRefused(Exception):
    """The process must not serve with this setup: the message says why and
    what to do, in one line (no traceback)."""


# PostgreSQL advisory lock keys (bigint): every serving process holds
# NODE_LOCK (shared in a cluster, exclusive alone); MIGRATION_LOCK is held
# while the schema is brought up to date, so processes started together
# migrate one after the other; SEARCH_INDEX_LOCK while a process drops or
# builds the search index its ``search_index`` asks for (store/search_gin.py).
NODE_LOCK = 0x7469_6469_6E67_0001  # "tiding" + 1
MIGRATION_LOCK = 0x7469_6469_6E67_0002
SEARCH_INDEX_LOCK = 0x7469_6469_6E67_0003

# The WebSocket close a draining process (SIGTERM) sends to every device:
# 1012 is the standard "service restart"; the reason tells the client that
# any other process will take it at once (docs/protocol.md#close-codes).
DRAIN_CLOSE = 1012
DRAIN_REASON = "draining: reconnect now, to any node"
