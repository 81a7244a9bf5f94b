"""Groups: groups, members with roles and cursors, group settings.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Placeholder so that parallel work can fill in its own revision; empty until then.
    pass


def downgrade() -> None:
    pass
