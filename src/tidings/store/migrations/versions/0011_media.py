"""Uploaded media (issue 6): content-addressed blobs, the uploads made of
them, which messages carry them, unfinished uploads, and each app's limits.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_blobs",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("refs", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "media",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("uploader", sa.String(48), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("format", sa.String(16), nullable=False, server_default=""),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False, server_default="0"),
        sa.Column("height", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duration_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("variants", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_media_app_time", "media", ["sdkappid", "created_at"])
    op.create_index("ix_media_hash", "media", ["hash"])
    op.create_table(
        "media_refs",
        sa.Column("media_id", sa.String(32), primary_key=True),
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_media_refs_entry", "media_refs", ["conversation_id", "seq"])
    op.create_table(
        "media_uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("owner", sa.String(48), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False, server_default=""),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("duration_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_media_uploads_owner", "media_uploads", ["sdkappid", "owner"])
    op.create_table(
        "app_media_settings",
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("max_bytes", sa.BigInteger, nullable=False),
        sa.Column("kinds", sa.String(64), nullable=False),
        sa.Column("keep_location", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_media_settings")
    op.drop_index("ix_media_uploads_owner", table_name="media_uploads")
    op.drop_table("media_uploads")
    op.drop_index("ix_media_refs_entry", table_name="media_refs")
    op.drop_table("media_refs")
    op.drop_index("ix_media_hash", table_name="media")
    op.drop_index("ix_media_app_time", table_name="media")
    op.drop_table("media")
    op.drop_table("media_blobs")
