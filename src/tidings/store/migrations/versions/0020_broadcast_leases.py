"""Broadcasts with a lease (docs/cluster.md): in a cluster, a running job is
walked by the one process that holds its lease (``lease_owner`` until
``lease_until``, ms), renewed while it walks; a process that dies leaves the
job to another once the lease ends, and two processes never walk one job
at once.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("broadcasts", sa.Column("lease_until", sa.BigInteger, nullable=False,
                                          server_default="0"))
    op.add_column("broadcasts", sa.Column("lease_owner", sa.String(32), nullable=False,
                                          server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("lease_owner")
        batch.drop_column("lease_until")
