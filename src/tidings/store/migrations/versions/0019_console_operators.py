"""The deployment's operators and their sessions (issue 14, the console),
and the per-minute figures of apps that the console draws: tables of
their own, so that they touch nothing else.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(32), sa.ForeignKey("operators.name", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_operator_sessions_name", "operator_sessions", ["name"])
    op.create_table(
        "app_minutes",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("minute", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("node", sa.String(32), primary_key=True),
        sa.Column("connections", sa.Integer, nullable=False, server_default="0"),
        sa.Column("active_users", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_app_minutes_minute", "app_minutes", ["minute"])


def downgrade() -> None:
    op.drop_table("app_minutes")
    op.drop_table("operator_sessions")
    op.drop_table("operators")
