"""On SQLite a message's text row goes when its message does, by a trigger
on ``messages`` (issue 19, review of perf-texts2).

Since 0030 a text's id is its message's rowid and nothing else keys it: a
text left behind by a delete of messages would hold the rowid SQLite gives
the next message, and the search step would fail on the key at every run.
0030 kept the rule in two places (a trigger before a conversation is
deleted, and retention deleting texts by rowid first); one trigger after a
message is deleted keeps it for every delete, a cascade's included, at one
primary-key lookup a row (as 0024's trigger on ``messages`` costs).
PostgreSQL: nothing (its texts keep their key to the conversation).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS message_texts_conversation_bd")
    op.execute("CREATE TRIGGER message_texts_message_ad AFTER DELETE ON messages BEGIN"
               " DELETE FROM message_texts WHERE id = old.rowid; END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS message_texts_message_ad")
    op.execute("CREATE TRIGGER message_texts_conversation_bd BEFORE DELETE ON conversations"
               " BEGIN DELETE FROM message_texts WHERE id IN"
               " (SELECT rowid FROM messages WHERE conversation_id = old.id); END")
