"""Friends, blocks and per-user conversation settings (pin, mute, hide, draft), reactions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Placeholder so that parallel work can fill in its own revision; empty until then.
    pass


def downgrade() -> None:
    pass
