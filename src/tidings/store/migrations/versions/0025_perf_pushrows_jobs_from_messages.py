"""perf-pushrows: on SQLite a message's push job is no ``push_jobs`` row
written in its transaction but the message itself: ``messages.push_options``
(NULL: no push), read by the push worker past a pointer (issue 19: the
job's row and its index were two of a lone commit's ~8 WAL pages).

``push_jobs_made`` holds one row: every ``messages`` row with a rowid up to
``made_to`` had its push decided (or made into a ``push_jobs`` row), none
above it has. The worker moves the pointer in the transaction that writes
the pushes it decided, if ``made_to`` and ``gen`` are still what it read.
SQLite gives a new row the largest rowid + 1, so deleting the newest
messages (a group dismissed, a conversation's retention) lets their rowids
come again: the delete trigger brings the pointer down to the largest rowid
left and moves ``gen``, so a step that read the rows before fails its move
and is done again. PostgreSQL keeps its ``push_jobs`` rows (the column
stays NULL there).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_TOP = "(SELECT coalesce(max(rowid), 0) FROM messages)"


def upgrade() -> None:
    op.add_column("messages", sa.Column("push_options", sa.Text, nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE push_jobs_made (id INTEGER PRIMARY KEY CHECK (id = 1),"
               " made_to INTEGER NOT NULL, gen INTEGER NOT NULL)")
    # Every message so far had its job written in its transaction.
    op.execute(f"INSERT INTO push_jobs_made (id, made_to, gen) SELECT 1, {_TOP}, 0")
    op.execute("CREATE TRIGGER push_jobs_made_ad AFTER DELETE ON messages"
               f" WHEN old.rowid > {_TOP} BEGIN"
               f" UPDATE push_jobs_made SET made_to = min(made_to, {_TOP}), gen = gen + 1;"
               " END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # The messages not decided yet get their rows back.
        op.execute("INSERT INTO push_jobs (sdkappid, conversation_id, seq, options, due_at)"
                   " SELECT sdkappid, conversation_id, seq, push_options, created_at"
                   " FROM messages WHERE push_options IS NOT NULL"
                   " AND rowid > (SELECT made_to FROM push_jobs_made)")
        op.execute("DROP TRIGGER IF EXISTS push_jobs_made_ad")
        op.execute("DROP TABLE push_jobs_made")
    # A plain ALTER TABLE on SQLite (3.35+): a batch copy would lose the
    # table's triggers.
    op.drop_column("messages", "push_options")
