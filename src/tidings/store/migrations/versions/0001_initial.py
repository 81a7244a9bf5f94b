"""Apps, identities, one-to-one conversations and their messages.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("icon_url", sa.String(512), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "app_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"), nullable=False),
        sa.Column("secret_key", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("retired_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_app_keys_sdkappid", "app_keys", ["sdkappid"])
    op.create_table(
        "app_admins",
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
    )
    op.create_table(
        "users",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("a", sa.String(48), nullable=False),
        sa.Column("b", sa.String(48), nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_time", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("sdkappid", "kind", "a", "b", name="uq_conversations_key"),
    )
    op.create_table(
        "conversation_members",
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("read_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("joined_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_members_user", "conversation_members", ["sdkappid", "user_id"])
    op.create_table(
        "messages",
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("sender", sa.String(32), nullable=False),
        sa.Column("client_msg_id", sa.String(64), nullable=False),
        sa.Column("elements", sa.Text, nullable=False),
        sa.Column("cloud_custom_data", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False, server_default="0"),
        sa.UniqueConstraint("sdkappid", "sender", "client_msg_id",
                            name="uq_messages_client_id"),
    )


def downgrade() -> None:
    for table in ("messages", "conversation_members", "conversations", "users",
                  "app_admins", "app_keys", "apps"):
        op.drop_table(table)
