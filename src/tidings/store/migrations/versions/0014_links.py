"""Links between home accounts and app identities (issue 5): ``links`` and
the used link tickets (``link_tickets_used``), and each app's
profile-callback setting (``app_link_settings``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("home_user", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ux_links_home", "links", ["home_user", "sdkappid"], unique=True)
    op.create_table(
        "link_tickets_used",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("sig", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_link_tickets_used_expires_at", "link_tickets_used", ["expires_at"])
    op.create_table(
        "app_link_settings",
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("profile_callback", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("profile_ttl", sa.Integer, nullable=False, server_default="300"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_link_settings")
    op.drop_index("ix_link_tickets_used_expires_at", table_name="link_tickets_used")
    op.drop_table("link_tickets_used")
    op.drop_index("ux_links_home", table_name="links")
    op.drop_table("links")
