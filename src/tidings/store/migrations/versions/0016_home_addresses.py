"""Home accounts: adding a verified address, password reset (issue 5).

A one-time code now has a purpose (sign_in, attach, reset, delete), part of
the key: an address can hold a sign-in code and a reset code at once, and
a code of one purpose is never found when spending another. Codes alive
during the upgrade are sign-in codes and keep working.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    purpose = sa.Column("purpose", sa.String(8), nullable=False, server_default="sign_in")
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("home_codes", purpose)
        op.drop_constraint("home_codes_pkey", "home_codes", type_="primary")
        op.create_primary_key("home_codes_pkey", "home_codes",
                              ["channel", "address", "purpose"])
        return
    # SQLite cannot change a primary key in place: the table is copied.
    with op.batch_alter_table("home_codes", recreate="always") as batch:
        batch.add_column(purpose)
        batch.create_primary_key("pk_home_codes", ["channel", "address", "purpose"])


def downgrade() -> None:
    # Only sign-in codes existed before; the others cannot be kept.
    op.execute("DELETE FROM home_codes WHERE purpose <> 'sign_in'")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("home_codes_pkey", "home_codes", type_="primary")
        op.create_primary_key("home_codes_pkey", "home_codes", ["channel", "address"])
        op.drop_column("home_codes", "purpose")
        return
    with op.batch_alter_table("home_codes", recreate="always") as batch:
        batch.drop_column("purpose")
        batch.create_primary_key("pk_home_codes", ["channel", "address"])
