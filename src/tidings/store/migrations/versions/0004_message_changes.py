"""Message changes: recall and edit (state, edited_at, who changed it), imported messages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Placeholder so that parallel work can fill in its own revision; empty until then.
    pass


def downgrade() -> None:
    pass
