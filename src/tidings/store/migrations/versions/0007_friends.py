"""Friends, friend requests, blocks, the app's one-to-one rules, and each
user's conversation settings (pin, mute, hide, cleared history, draft),
and reactions to messages.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "friends",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("friend_id", sa.String(32), primary_key=True),
        sa.Column("remark", sa.String(96), nullable=False, server_default=""),
        sa.Column("source", sa.String(32), nullable=False, server_default=""),
        sa.Column("wording", sa.String(256), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "friend_requests",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("from_user", sa.String(32), primary_key=True),
        sa.Column("to_user", sa.String(32), primary_key=True),
        sa.Column("wording", sa.String(256), nullable=False, server_default=""),
        sa.Column("source", sa.String(32), nullable=False, server_default=""),
        sa.Column("remark", sa.String(96), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_friend_requests_to", "friend_requests", ["sdkappid", "to_user"])
    op.create_table(
        "blocks",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("blocked_id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "app_c2c_settings",
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("needs_friendship", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("blocked_sender_sees", sa.String(8), nullable=False, server_default="sent"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("read_receipts", sa.SmallInteger, nullable=False, server_default="1"),
    )
    op.create_table(
        "conversation_settings",
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("pinned", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("muted", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("hidden_seq", sa.BigInteger, nullable=True),
        sa.Column("cleared_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("draft", sa.Text, nullable=False, server_default=""),
        sa.Column("draft_time", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_conversation_settings_user", "conversation_settings",
                    ["sdkappid", "user_id"])
    op.create_table(
        "message_reactions",
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("emoji", sa.String(32), primary_key=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("message_reactions")
    op.drop_index("ix_conversation_settings_user", table_name="conversation_settings")
    op.drop_table("conversation_settings")
    op.drop_table("app_c2c_settings")
    op.drop_table("blocks")
    op.drop_index("ix_friend_requests_to", table_name="friend_requests")
    op.drop_table("friend_requests")
    op.drop_table("friends")
