"""Groups: groups, members with roles and cursors, group settings.

A group is a conversation of kind "group"; its members are rows of
conversation_members (one per member, with the member's cursor), its
messages and system entries are rows of messages (one per entry).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_MEMBER_COLUMNS = ("mention_seq", "visible_after", "name_card", "muted_until", "role")


def upgrade() -> None:
    op.add_column("conversation_members", sa.Column("role", sa.SmallInteger, nullable=False,
                                                    server_default="0"))
    op.add_column("conversation_members", sa.Column("muted_until", sa.BigInteger,
                                                    nullable=False, server_default="0"))
    op.add_column("conversation_members", sa.Column("name_card", sa.String(200),
                                                    nullable=False, server_default=""))
    op.add_column("conversation_members", sa.Column("visible_after", sa.BigInteger,
                                                    nullable=False, server_default="0"))
    op.add_column("conversation_members", sa.Column("mention_seq", sa.BigInteger,
                                                    nullable=False, server_default="0"))
    op.add_column("conversations", sa.Column("at_all_seq", sa.BigInteger, nullable=False,
                                             server_default="0"))
    op.add_column("messages", sa.Column("mentions", sa.Text, nullable=True))
    op.create_table(
        "groups",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("group_id", sa.String(48), primary_key=True),
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False,
                  ),
        sa.Column("type", sa.String(12), nullable=False),
        sa.Column("name", sa.String(400), nullable=False, server_default=""),
        sa.Column("face_url", sa.String(500), nullable=False, server_default=""),
        sa.Column("introduction", sa.String(1600), nullable=False, server_default=""),
        sa.Column("notification", sa.String(1600), nullable=False, server_default=""),
        sa.Column("owner", sa.String(32), nullable=False, server_default=""),
        sa.Column("join_option", sa.String(16), nullable=False),
        sa.Column("mute_all", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("max_members", sa.BigInteger, nullable=False),
        sa.Column("custom", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("conversation_id", name="uq_groups_conversation"),
    )
    op.create_table(
        "app_group_settings",
        sa.Column("sdkappid", sa.BigInteger, sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"),
                  primary_key=True, autoincrement=False),
        sa.Column("default_members", sa.Text, nullable=False, server_default="[]"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_group_settings")
    op.drop_table("groups")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("mentions")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("at_all_seq")
    with op.batch_alter_table("conversation_members") as batch:
        for column in _MEMBER_COLUMNS:
            batch.drop_column(column)
