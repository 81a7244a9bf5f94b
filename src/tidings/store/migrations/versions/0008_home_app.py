"""The built-in home app (issue 5): ``apps.kind`` is "home" for it, and at
most one app has that kind.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_HOME = sa.text("kind = 'home'")


def upgrade() -> None:
    op.add_column("apps", sa.Column("kind", sa.String(8), nullable=False,
                                    server_default="app"))
    op.create_index("ux_apps_home", "apps", ["kind"], unique=True,
                    sqlite_where=_HOME, postgresql_where=_HOME)


def downgrade() -> None:
    op.drop_index("ux_apps_home", table_name="apps")
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("kind")
