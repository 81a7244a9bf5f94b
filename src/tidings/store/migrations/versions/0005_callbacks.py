"""Callbacks: per-app callback settings and the durable after-callback outbox.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_callbacks",
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("token", sa.String(128), nullable=False),
        sa.Column("format", sa.String(8), nullable=False, server_default="native"),
        sa.Column("disabled_events", sa.String(512), nullable=False, server_default=""),
        sa.Column("timeout_ms", sa.Integer, nullable=False, server_default="2000"),
        sa.Column("failure_policy", sa.String(8), nullable=False, server_default="allow"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "callback_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.String(512), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_callback_outbox_due", "callback_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_callback_outbox_app", "callback_outbox", ["sdkappid", "id"])


def downgrade() -> None:
    op.drop_table("callback_outbox")
    op.drop_table("app_callbacks")
