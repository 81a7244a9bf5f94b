"""perf-pgsat2: on PostgreSQL, ``message_texts`` without its surrogate ``id``
(issue 19).

Each message's text row cost PostgreSQL a ``nextval`` and an entry in
``message_texts_pkey`` beside ``uq_message_texts_message``, which already
names the row: every reader and writer on PostgreSQL finds a text by its
message's ``(conversation_id, seq)`` (a recall, an edit, retention, search's
page); only SQLite's FTS5 table reads ``id`` (its rowid). Dropping the
column drops its key, its index and its sequence: one b-tree fewer per
message at saturation (bench/journal/perf-pgsat2.md). The unique key
becomes the table's replica identity, as the primary key was, so a logical
replication of its deletes still names the row. ``DROP COLUMN`` changes
the catalog only (old rows keep the bytes until rewritten). SQLite: nothing.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE message_texts DROP COLUMN id")
    op.execute("ALTER TABLE message_texts REPLICA IDENTITY USING INDEX uq_message_texts_message")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE message_texts REPLICA IDENTITY DEFAULT")
    op.execute("ALTER TABLE message_texts ADD COLUMN id BIGSERIAL PRIMARY KEY")
