"""Push for receivers who are offline (issue 6): per-app push credentials,
the devices' push tokens and subscriptions, the durable queue of messages
whose push is due, and the per-device sends that are retried.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                     autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "app_push",
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("private_previews", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("use_callback", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("vapid_private", sa.Text, nullable=False, server_default=""),
        sa.Column("vapid_public", sa.String(128), nullable=False, server_default=""),
        sa.Column("vapid_subject", sa.String(256), nullable=False, server_default=""),
        sa.Column("apns_key_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("apns_team_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("apns_topic", sa.String(256), nullable=False, server_default=""),
        sa.Column("apns_key", sa.Text, nullable=False, server_default=""),
        sa.Column("fcm_credentials", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "push_devices",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("private_previews", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_push_devices_token", "push_devices", ["sdkappid", "token_hash"])
    op.create_table(
        "push_jobs",
        _id(),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("conversation_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("options", sa.Text, nullable=False, server_default=""),
        sa.Column("due_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_push_jobs_due", "push_jobs", ["due_at"])
    op.create_table(
        "push_sends",
        _id(),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.String(512), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_push_sends_due", "push_sends", ["status", "next_attempt_at"])
    op.create_index("ix_push_sends_device", "push_sends", ["sdkappid", "user_id", "device_id"])


def downgrade() -> None:
    op.drop_table("push_sends")
    op.drop_table("push_jobs")
    op.drop_table("push_devices")
    op.drop_table("app_push")
