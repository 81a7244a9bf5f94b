"""perf-pg: PostgreSQL's message batch in one statement (issue 19).

``tidings_seq_moved()`` raises a serialization failure (SQLSTATE 40001):
the one statement of a batch written from the writer's memory calls it when
a conversation's ``last_seq`` is no longer what the writer remembered
(another process wrote there, or removed it), so the statement changes
nothing and the writer tries again the long way: the dedup, the locks and
the counters read as committed (store/writer/pg_batch.py). A function,
because plain SQL cannot raise an error of one's choosing. SQLite: nothing
(one process writes a file).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION tidings_seq_moved() RETURNS integer LANGUAGE plpgsql"
        " VOLATILE AS $$ BEGIN RAISE EXCEPTION 'a conversation moved since the writer read it'"
        " USING ERRCODE = 'serialization_failure'; END $$")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS tidings_seq_moved()")
