"""Account state on users (nickname, avatar, state, kick time) and app API keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN with a constant default works in place on SQLite and PostgreSQL.
    op.add_column("users", sa.Column("nickname", sa.String(64), nullable=False,
                                     server_default=""))
    op.add_column("users", sa.Column("avatar_url", sa.String(512), nullable=False,
                                     server_default=""))
    op.add_column("users", sa.Column("state", sa.String(8), nullable=False,
                                     server_default="active"))
    op.add_column("users", sa.Column("sessions_valid_after", sa.BigInteger, nullable=False,
                                     server_default="0"))
    op.add_column("users", sa.Column("updated_at", sa.BigInteger, nullable=False,
                                     server_default="0"))
    op.create_table(
        "app_api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False, server_default=""),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("key_hash", name="uq_app_api_keys_key_hash"),
    )
    op.create_index("ix_app_api_keys_sdkappid", "app_api_keys", ["sdkappid"])


def downgrade() -> None:
    op.drop_table("app_api_keys")
    with op.batch_alter_table("users") as batch:
        for column in ("updated_at", "sessions_valid_after", "state", "avatar_url",
                       "nickname"):
            batch.drop_column(column)
