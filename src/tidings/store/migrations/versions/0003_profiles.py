"""Profiles: standard and custom profile fields per user.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Placeholder so that parallel work can fill in its own revision; empty until then.
    pass


def downgrade() -> None:
    pass
