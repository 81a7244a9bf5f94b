"""perf-tail3: SQLite's FTS5 index merges its segments in steps of its own,
not inside the insert that fills a level (issue 19).

With FTS5's default (``automerge`` 4) the insert of a step's rows sometimes
merged a whole level: that step held the message writer for ~6 ms at 500
msg/s (20-60 ms in bench/fts_steps.py's longer run) where most take under
1, and a message arriving meanwhile waited for it (bench/README.md, "p99
at 500 msg/s, the disk's part and the server's"). ``automerge`` 0 turns
those merges off; store/search_index.py then merges after each step, a
few pages at a time. ``crisismerge`` is set to FTS5's default, 16,
explicitly: the bound on segments a level if those merges ever fall
behind. Both settings persist in the index's own
``message_texts_fts_config``. PostgreSQL: nothing.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_SET = "INSERT INTO message_texts_fts (message_texts_fts, rank) VALUES ('{}', {})"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(_SET.format("automerge", 0))
    op.execute(_SET.format("crisismerge", 16))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(_SET.format("automerge", 4))  # FTS5's default
