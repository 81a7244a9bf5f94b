"""perf-pgsat: on PostgreSQL, a message's conversation checked once per
statement instead of once per row (issue 19).

A foreign key checks each inserted row with a query of its own (an SPI
``SELECT 1 FROM conversations ... FOR KEY SHARE`` from a row trigger):
at saturation a batch of ~500 messages made ~1,100 of them, for
``messages`` and ``message_texts``, about 29 % of PostgreSQL's CPU per
message (``perf`` on the cluster, bench/pg_saturation.py). For these two
tables, the ones written for every message, the keys become statement
triggers over the statement's new rows (a transition table): one query per
statement locks their distinct conversations (``FOR KEY SHARE``, in id
order, as the key's check did row by row, so a concurrent delete still waits
for the commit) and fails with the key's SQLSTATE, 23503, when one is
missing. ``ON DELETE CASCADE`` becomes one statement trigger on
``conversations`` deleting the two tables' rows of the conversations gone
(a group dissolved, an app deleted through its key's cascade).

What a key did that the triggers do not: refuse an ``UPDATE`` of a row's
``conversation_id`` to a missing one (no code changes that column) and a
``TRUNCATE`` of ``conversations`` alone. store/schema.py still declares the
keys (SQLite keeps them; the tables' order for copies follows them); the
schema comparison test skips them on PostgreSQL. SQLite: nothing.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# The tables whose key to conversations the triggers keep (store/schema.py's
# ``KEYS_BY_TRIGGER`` names the same).
TABLES = ("messages", "message_texts")

CHECK = """
CREATE OR REPLACE FUNCTION tidings_rows_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    locked bigint;
BEGIN
    SELECT count(DISTINCT conversation_id) INTO wanted FROM new_rows;
    IF wanted = 0 THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM conversations c
        WHERE c.id IN (SELECT conversation_id FROM new_rows)
        ORDER BY c.id FOR KEY SHARE OF c) k;
    IF locked < wanted THEN
        RAISE EXCEPTION 'insert on table "%" violates its key to conversations', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$"""

CASCADE = """
CREATE OR REPLACE FUNCTION tidings_conversations_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM message_texts WHERE conversation_id IN (SELECT id FROM old_rows);
    DELETE FROM messages WHERE conversation_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CHECK)
    op.execute(CASCADE)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_conversation_id_fkey")
        op.execute(f"CREATE TRIGGER {table}_conversation AFTER INSERT ON {table}"
                   " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
                   " EXECUTE FUNCTION tidings_rows_conversations()")
    op.execute("CREATE TRIGGER conversations_gone AFTER DELETE ON conversations"
               " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
               " EXECUTE FUNCTION tidings_conversations_gone()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS conversations_gone ON conversations")
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_conversation ON {table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_conversation_id_fkey"
                   " FOREIGN KEY (conversation_id) REFERENCES conversations (id)"
                   " ON DELETE CASCADE")
    op.execute("DROP FUNCTION IF EXISTS tidings_conversations_gone()")
    op.execute("DROP FUNCTION IF EXISTS tidings_rows_conversations()")
