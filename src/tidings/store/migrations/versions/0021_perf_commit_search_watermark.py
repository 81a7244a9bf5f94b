"""perf-commit: SQLite's FTS5 index of message texts is written after the
message's commit, in a batched step of its own behind a watermark (issue
19: the trigram index was about a third of the writer's work for a message
that commits alone).

``message_texts_fts_indexed`` holds one row: every ``message_texts`` row
with an id up to ``indexed_to`` is in the index, none above it is. The
insert trigger goes (store/search_index.py indexes the rows above the
watermark); the delete and update triggers stay for the rows the index
holds only. PostgreSQL's trigram index is a plain index of the table, kept
in the transaction as before: nothing changes there.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_INDEXED = "(SELECT indexed_to FROM message_texts_fts_indexed)"

_DELETE_OLD = ("INSERT INTO message_texts_fts (message_texts_fts, rowid, body)"
               " VALUES ('delete', old.id, old.body);")
_INSERT_NEW = "INSERT INTO message_texts_fts (rowid, body) VALUES (new.id, new.body);"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Named under message_texts_fts: schema comparisons skip it with the
    # FTS5 table (schema.made_by_migrations_only).
    op.execute("CREATE TABLE message_texts_fts_indexed ("
               "id INTEGER PRIMARY KEY CHECK (id = 1), indexed_to INTEGER NOT NULL)")
    # The insert trigger indexed every row so far.
    op.execute("INSERT INTO message_texts_fts_indexed (id, indexed_to)"
               " SELECT 1, coalesce(max(id), 0) FROM message_texts")
    for name in ("message_texts_ai", "message_texts_ad", "message_texts_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("CREATE TRIGGER message_texts_ad AFTER DELETE ON message_texts"
               f" WHEN old.id <= {_INDEXED} BEGIN {_DELETE_OLD} END")
    op.execute("CREATE TRIGGER message_texts_au AFTER UPDATE ON message_texts"
               f" WHEN old.id <= {_INDEXED} BEGIN {_DELETE_OLD} {_INSERT_NEW} END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # The rows not yet indexed go in first: then the triggers of 0009 again.
    op.execute("INSERT INTO message_texts_fts (rowid, body) SELECT id, body FROM message_texts"
               f" WHERE id > {_INDEXED}")
    for name in ("message_texts_ad", "message_texts_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE message_texts_fts_indexed")
    op.execute("CREATE TRIGGER message_texts_ai AFTER INSERT ON message_texts BEGIN"
               f" {_INSERT_NEW} END")
    op.execute(f"CREATE TRIGGER message_texts_ad AFTER DELETE ON message_texts BEGIN"
               f" {_DELETE_OLD} END")
    op.execute("CREATE TRIGGER message_texts_au AFTER UPDATE ON message_texts BEGIN"
               f" {_DELETE_OLD} {_INSERT_NEW} END")
