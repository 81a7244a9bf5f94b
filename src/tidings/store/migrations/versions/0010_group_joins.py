"""Join applications, and who left which group (issue 4).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_join_requests",
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("group_id", sa.String(48), nullable=False),
        sa.Column("message", sa.String(1200), nullable=False, server_default=""),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("handled_by", sa.String(32), nullable=True),
        sa.Column("handled_at", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_group_join_requests_user", "group_join_requests",
                    ["sdkappid", "user_id"])
    op.create_table(
        "group_departures",
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("group_id", sa.String(48), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("by_user", sa.String(32), nullable=True),
        sa.Column("left_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_group_departures_user", "group_departures", ["sdkappid", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_group_departures_user", table_name="group_departures")
    op.drop_table("group_departures")
    op.drop_index("ix_group_join_requests_user", table_name="group_join_requests")
    op.drop_table("group_join_requests")
