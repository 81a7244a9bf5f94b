"""Home accounts (issue 5): hosted sign-in (username and password, or a
one-time code by e-mail or phone), sessions that can be revoked one by one,
the live one-time codes, and rate-limit counters shared by all processes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_accounts",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(32), nullable=True),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("username", name="ux_home_accounts_username"),
        sa.UniqueConstraint("email", name="ux_home_accounts_email"),
        sa.UniqueConstraint("phone", name="ux_home_accounts_phone"),
    )
    op.create_table(
        "home_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_home_sessions_user", "home_sessions", ["user_id"])
    op.create_table(
        "home_codes",
        sa.Column("channel", sa.String(8), primary_key=True),
        sa.Column("address", sa.String(254), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("tries_left", sa.SmallInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_counters")
    op.drop_table("home_codes")
    op.drop_index("ix_home_sessions_user", table_name="home_sessions")
    op.drop_table("home_sessions")
    op.drop_table("home_accounts")
