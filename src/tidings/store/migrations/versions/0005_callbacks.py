"""Callbacks: per-app callback settings and the durable after-callback outbox.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Placeholder so that parallel work can fill in its own revision; empty until then.
    pass


def downgrade() -> None:
    pass
