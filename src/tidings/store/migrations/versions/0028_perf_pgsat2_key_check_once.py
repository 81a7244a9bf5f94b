"""perf-pgsat2: PostgreSQL's statement check of a conversation key
(migration 0026) reads the statement's new rows once instead of twice
(issue 19).

0026's ``tidings_rows_conversations()`` counted the statement's distinct
conversations in one query (a sort of every new row) and locked them in a
second (a semi-join over every new row again): two queries over the
transition table per statement, ~2 us of PostgreSQL's time per message at
saturation (``pg_stat_statements``, bench/pg_saturation.py), for
``messages`` and ``message_texts``. Now one query takes the distinct ids in
order and locks each one's row through a lateral subquery (``FOR KEY
SHARE``, in id order as before); a missing conversation is a row the
subquery does not give, so the counts differ and the statement fails with
23503 as before. Same rule, same lock, same SQLSTATE. SQLite: nothing.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

CHECK = """
CREATE OR REPLACE FUNCTION tidings_rows_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    locked bigint;
BEGIN
    SELECT count(*), count(k.id) INTO wanted, locked
    FROM (SELECT DISTINCT conversation_id AS id FROM new_rows ORDER BY 1) r
    LEFT JOIN LATERAL (
        SELECT c.id FROM conversations c WHERE c.id = r.id FOR KEY SHARE OF c) k ON true;
    IF locked < wanted THEN
        RAISE EXCEPTION 'insert on table "%" violates its key to conversations', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CHECK)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # 0026's two queries, as that migration wrote them.
    op.execute(import_module(
        "tidings.store.migrations.versions.0026_perf_pgsat_fk_by_statement").CHECK)
