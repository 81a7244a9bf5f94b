"""Message retention per app (issue 17).

``app_retention`` holds how many days an app keeps its messages (no row: for
ever). Each conversation remembers where expiry has reached: the entries up
to ``expired_seq`` are gone, and ``expired_msg_no`` is the running message
count there, so a read cursor moved onto an expired entry still counts
unread messages right.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_retention",
        sa.Column("sdkappid", sa.BigInteger,
                  sa.ForeignKey("apps.sdkappid", ondelete="CASCADE"),
                  primary_key=True, autoincrement=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.add_column("conversations", sa.Column("expired_seq", sa.BigInteger, nullable=False,
                                             server_default="0"))
    op.add_column("conversations", sa.Column("expired_msg_no", sa.BigInteger,
                                             nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("expired_msg_no")
        batch.drop_column("expired_seq")
    op.drop_table("app_retention")
