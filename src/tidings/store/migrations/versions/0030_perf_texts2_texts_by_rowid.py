"""perf-texts2: on SQLite a ``message_texts`` row's id is its message's
rowid in ``messages``, and the table has neither ``uq_message_texts_message``
nor its foreign key to ``conversations`` (issue 19).

The unique index was a third of the search step's work (its insert, and
its leaf pages in the step's commit: ~1.8 of ~5.5 us a message,
bench/journal/perf-texts2.md). A recall, an edit, retention and search
now find a text through ``messages``' primary key and its rowid. The
foreign key goes with the index: without an index on ``conversation_id``
SQLite's cascade would read the whole table at each disbanded group, so a
trigger on ``conversations`` deletes a conversation's texts through its
messages instead. SQLite keeps an index of a table constraint that cannot
be dropped alone: the table is made again, the FTS5 index rebuilt from it
(its rowids are the new ids) and the watermark put at its top. PostgreSQL:
nothing (migration 0027 keyed its rows by the message already).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

_COLUMNS = ("id INTEGER NOT NULL, conversation_id INTEGER NOT NULL, seq BIGINT NOT NULL,"
            " sdkappid BIGINT NOT NULL, sender VARCHAR(32) NOT NULL,"
            " created_at BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (id)")
_OLD_KEYS = (", CONSTRAINT uq_message_texts_message UNIQUE (conversation_id, seq),"
             " FOREIGN KEY(conversation_id) REFERENCES conversations (id) ON DELETE CASCADE")
_FIELDS = "conversation_id, seq, sdkappid, sender, created_at, body"
_INDEXED = "(SELECT indexed_to FROM message_texts_fts_indexed)"
_DELETE_OLD = ("INSERT INTO message_texts_fts (message_texts_fts, rowid, body)"
               " VALUES ('delete', old.id, old.body);")
_INSERT_NEW = "INSERT INTO message_texts_fts (rowid, body) VALUES (new.id, new.body);"
# Migration 0021's, made again with the table.
_TRIGGERS = (
    "CREATE TRIGGER message_texts_ad AFTER DELETE ON message_texts"
    f" WHEN old.id <= {_INDEXED} BEGIN {_DELETE_OLD} END",
    "CREATE TRIGGER message_texts_au AFTER UPDATE ON message_texts"
    f" WHEN old.id <= {_INDEXED} BEGIN {_DELETE_OLD} {_INSERT_NEW} END",
)
# Before the cascade deletes the messages: their rowids find the texts.
_CONVERSATION_BD = (
    "CREATE TRIGGER message_texts_conversation_bd BEFORE DELETE ON conversations BEGIN"
    " DELETE FROM message_texts WHERE id IN"
    " (SELECT rowid FROM messages WHERE conversation_id = old.id); END")


def _remake(keys: str, ids: str, join: str) -> None:
    op.execute(f"CREATE TABLE message_texts_new ({_COLUMNS}{keys})")
    op.execute(f"INSERT INTO message_texts_new (id, {_FIELDS}) SELECT {ids},"
               f" t.conversation_id, t.seq, t.sdkappid, t.sender, t.created_at, t.body"
               f" FROM message_texts AS t{join}")
    op.execute("DROP TABLE message_texts")  # and its triggers
    op.execute("ALTER TABLE message_texts_new RENAME TO message_texts")
    for statement in _TRIGGERS:
        op.execute(statement)
    # The index holds the new ids: made again from the table, all of it.
    op.execute("INSERT INTO message_texts_fts (message_texts_fts) VALUES ('rebuild')")
    op.execute("UPDATE message_texts_fts_indexed SET indexed_to ="
               " (SELECT coalesce(max(id), 0) FROM message_texts)")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # A text whose message is gone (none should be) goes with it.
    _remake("", "m.rowid", " JOIN messages AS m ON m.conversation_id = t.conversation_id"
            " AND m.seq = t.seq")
    op.execute(_CONVERSATION_BD)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS message_texts_conversation_bd")
    _remake(_OLD_KEYS, "t.id", "")
