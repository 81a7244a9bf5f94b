"""perf-pages: on SQLite a message's ``message_texts`` row is made after its
commit, by the search index's step, from the committed ``messages`` rows
(issue 19: the row was two of a lone commit's ~10 WAL pages).

``message_texts_fts_built`` holds one row: every ``messages`` row with a
rowid up to ``built_to`` has its text row (if it has a text), none above it
has. ``messages`` has no integer key of its own, so the pointer is its
rowid, which SQLite gives as the largest + 1: after the newest rows were
deleted (a group dismissed, retention of a whole conversation) a new
message could get a rowid at or below the pointer and never be built. The
delete trigger brings the pointer down to the largest rowid left when that
could happen. PostgreSQL keeps its text rows in the message's transaction
(its trigram index is a plain index): nothing changes there.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

from alembic import op

from tidings.domain.elements import EntryKind, MessageState
from tidings.domain.search import searchable_text

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_BUILT = "(SELECT built_to FROM message_texts_fts_built)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Named under message_texts_fts: schema comparisons skip it with the
    # FTS5 table (schema.made_by_migrations_only).
    op.execute("CREATE TABLE message_texts_fts_built ("
               "id INTEGER PRIMARY KEY CHECK (id = 1), built_to INTEGER NOT NULL)")
    # Every message so far had its text row made in its transaction.
    op.execute("INSERT INTO message_texts_fts_built (id, built_to)"
               " SELECT 1, coalesce(max(rowid), 0) FROM messages")
    op.execute("CREATE TRIGGER message_texts_fts_built_ad AFTER DELETE ON messages"
               f" WHEN old.rowid <= {_BUILT} BEGIN"
               " UPDATE message_texts_fts_built SET built_to ="
               " min(built_to, (SELECT coalesce(max(rowid), 0) FROM messages)); END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # The messages not built yet get their rows (0021's step indexes them).
    cursor = op.get_bind().connection.cursor()
    try:
        _build_texts(cursor)
    finally:
        cursor.close()
    op.execute("DROP TRIGGER IF EXISTS message_texts_fts_built_ad")
    op.execute("DROP TABLE message_texts_fts_built")


def _build_texts(cursor: Any) -> None:
    """The text rows of the messages past ``built_to`` as 0023's writer made
    them, with ids after the largest and the watermark (not today's step:
    its ids are the messages' rowids, which on a file never brought to
    0030 may be ids of texts already there)."""
    cursor.execute(f"SELECT {_BUILT}, max(coalesce((SELECT max(id) FROM message_texts), 0),"
                   " (SELECT indexed_to FROM message_texts_fts_indexed))")
    built_to, last = cursor.fetchone()
    cursor.execute("SELECT conversation_id, seq, sdkappid, sender, created_at, elements, kind,"
                   " state FROM messages WHERE rowid > ? ORDER BY rowid", (built_to,))
    texts = [(*r[:5], body) for r in cursor.fetchall()
             if r[6] == EntryKind.MESSAGE and r[7] != MessageState.RECALLED
             and (body := searchable_text(r[5]))]
    cursor.executemany("INSERT INTO message_texts (conversation_id, seq, sdkappid, sender,"
                       " created_at, body, id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(*t, last + i) for i, t in enumerate(texts, 1)])
