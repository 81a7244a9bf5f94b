"""Group read receipts (issue 4): the app's size limit for groups that keep
them. The counts themselves come from the members' read cursors, so no table
per message is needed.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("app_group_settings",
                  sa.Column("read_receipts_max_members", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("app_group_settings") as batch:
        batch.drop_column("read_receipts_max_members")
