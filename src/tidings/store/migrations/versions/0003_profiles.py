"""Profiles (standard and custom fields), last login time, broadcasts, and the
index behind the operational figures.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PROFILE_COLUMNS = (
    ("gender", sa.String(8), "unknown"),
    ("birthday", sa.BigInteger, "0"),
    ("location", sa.String(16), ""),
    ("signature", sa.String(500), ""),
    ("language", sa.BigInteger, "0"),
    ("level", sa.BigInteger, "0"),
    ("role", sa.BigInteger, "0"),
    ("allow_type", sa.String(16), "need_confirm"),
    ("profile_updated_at", sa.BigInteger, "0"),
    ("last_login_at", sa.BigInteger, "0"),
)


def upgrade() -> None:
    # Tencent allows 500-byte nicknames. SQLite does not enforce lengths, and
    # widening there would mean rebuilding the table, so only PostgreSQL.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("users", "nickname", type_=sa.String(500))
    for name, type_, default in _PROFILE_COLUMNS:
        op.add_column("users", sa.Column(name, type_, nullable=False, server_default=default))
    op.create_index("ix_users_last_login", "users", ["sdkappid", "last_login_at"])
    op.create_table(
        "user_profile_custom",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_messages_app_time", "messages", ["sdkappid", "created_at"])
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("sender", sa.String(32), nullable=False),
        sa.Column("client_msg_id", sa.String(64), nullable=False),
        sa.Column("elements", sa.Text, nullable=False),
        sa.Column("cloud_custom_data", sa.Text, nullable=False, server_default=""),
        sa.Column("state", sa.String(8), nullable=False, server_default="running"),
        sa.Column("cursor", sa.String(32), nullable=False, server_default=""),
        sa.Column("sent", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("skipped", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("sdkappid", "client_msg_id", name="uq_broadcasts_client_id"),
    )


def downgrade() -> None:
    op.drop_table("broadcasts")
    op.drop_index("ix_messages_app_time", "messages")
    op.drop_table("user_profile_custom")
    op.drop_index("ix_users_last_login", "users")
    with op.batch_alter_table("users") as batch:
        for name, _, _ in reversed(_PROFILE_COLUMNS):
            batch.drop_column(name)
