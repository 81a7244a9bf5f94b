"""On SQLite the admin's whole-app search walks ``message_texts`` by app
and time, and ``messages`` loses ``ix_messages_app_time`` (issue 19).

The index's readers had other ways but one (0032: the figures read
``app_message_counts``; retention reads each conversation's first entry):
the admin's whole-app search walk, which read ``messages`` newest first by
it and each text by its rowid. On SQLite the texts are the search step's,
made after the commits (store/search_index.py; the messages past its
``built_to`` are read by rowid, ``SearchStore.pending``): there an index of
``message_texts`` by ``(sdkappid, created_at)`` is paid by that step, not
by the ack's commit, which no longer writes ``ix_messages_app_time`` (one
b-tree insert a message: bench/journal/perf-rows13.md and perf-apptime).
PostgreSQL writes the texts in the batch's transaction: the same index
would cost the batch what ``ix_messages_app_time`` does, so nothing changes
there (the walk keeps reading ``messages`` by it).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index("ix_message_texts_app_time", "message_texts", ["sdkappid", "created_at"])
    op.drop_index("ix_messages_app_time", table_name="messages")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index("ix_messages_app_time", "messages", ["sdkappid", "created_at"])
    op.drop_index("ix_message_texts_app_time", table_name="message_texts")
