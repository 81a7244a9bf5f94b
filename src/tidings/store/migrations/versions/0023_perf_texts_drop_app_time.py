"""perf-texts: drop ``ix_message_texts_app_time`` (issue 19).

The index was a third of ``message_texts``' b-trees written per message
(one WAL page of a lone commit on SQLite) and about a tenth of the writer's
work per message at saturation. Its one reader, an admin's whole-app search
newest first, walks ``messages``' own ``ix_messages_app_time`` instead and
finds each text by ``uq_message_texts_message`` (store/search.py);
retention deletes texts by that unique key. Both backends.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_message_texts_app_time", table_name="message_texts")


def downgrade() -> None:
    op.create_index("ix_message_texts_app_time", "message_texts", ["sdkappid", "created_at"])
