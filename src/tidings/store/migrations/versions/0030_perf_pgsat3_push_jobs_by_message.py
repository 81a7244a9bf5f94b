"""perf-pgsat3: on PostgreSQL, ``push_jobs`` keyed by its due time and its
message, without its surrogate ``id`` (issue 19).

A message of an app that pushes cost PostgreSQL a ``push_jobs`` row with
two b-tree entries (``push_jobs_pkey`` on ``id``, ``ix_push_jobs_due``)
and a ``nextval``. A job is one message's (the writer makes at most one
per message, in the message's own statement, and a message's
``(conversation_id, seq)`` is never given again), so the row is named by
its message; the worker reads the due rows in ``due_at`` order and a
cluster's claim moves ``due_at``. One key, ``(due_at, conversation_id,
seq)``, serves both: the primary key (and so the replica identity), and
``ix_push_jobs_due`` goes. One b-tree and the sequence fewer per message
(bench/README.md, perf-pgsat3). SQLite keeps its ``id`` (its rows are the
failed deciding of a message past the pointer, store/push_jobs.py).

A job twice for one message (none is expected) is made one first: the
key would refuse it.

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


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DELETE FROM push_jobs a USING push_jobs b WHERE a.conversation_id ="
               " b.conversation_id AND a.seq = b.seq AND a.id > b.id")
    op.execute("ALTER TABLE push_jobs DROP COLUMN id")  # its key and sequence with it
    op.execute("DROP INDEX ix_push_jobs_due")
    op.execute("ALTER TABLE push_jobs ADD CONSTRAINT push_jobs_pkey"
               " PRIMARY KEY (due_at, conversation_id, seq)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE push_jobs DROP CONSTRAINT push_jobs_pkey")
    op.execute("ALTER TABLE push_jobs ADD COLUMN id BIGSERIAL PRIMARY KEY")
    op.execute("CREATE INDEX ix_push_jobs_due ON push_jobs (due_at)")
