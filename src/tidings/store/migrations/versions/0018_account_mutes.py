"""Global mutes of accounts (issue 16, Tencent's openconfigsvr/setnospeaking):
one table of its own, so that it touches nothing else.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_mutes",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("c2c_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("group_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_mutes")
