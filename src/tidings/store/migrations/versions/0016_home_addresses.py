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


_COLUMNS = "channel, address, digest, tries_left, created_at, expires_at"


def _sqlite_copy(key: list[str], purpose: bool) -> None:
    """SQLite cannot change a primary key in place: a new table, the rows
    copied in, the old one dropped (all in the migration's transaction)."""
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("tries_left", sa.SmallInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False)]
    if purpose:
        columns.append(sa.Column("purpose", sa.String(8), nullable=False,
                                 server_default="sign_in"))
    op.create_table("home_codes_0016", *columns, sa.PrimaryKeyConstraint(*key))
    op.execute(f"INSERT INTO home_codes_0016 ({_COLUMNS}) SELECT {_COLUMNS} FROM home_codes")
    op.drop_table("home_codes")
    op.rename_table("home_codes_0016", "home_codes")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        # Every code alive now is a sign-in code (the column's default).
        _sqlite_copy(["channel", "address", "purpose"], purpose=True)
        return
    op.add_column("home_codes", sa.Column("purpose", sa.String(8), nullable=False,
                                          server_default="sign_in"))
    op.drop_constraint("home_codes_pkey", "home_codes", type_="primary")
    op.create_primary_key("home_codes_pkey", "home_codes", ["channel", "address", "purpose"])


def downgrade() -> None:
    # Only sign-in codes existed before; the others cannot be kept.
    op.execute("DELETE FROM home_codes WHERE purpose <> 'sign_in'")
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_copy(["channel", "address"], purpose=False)
        return
    op.drop_constraint("home_codes_pkey", "home_codes", type_="primary")
    op.create_primary_key("home_codes_pkey", "home_codes", ["channel", "address"])
    op.drop_column("home_codes", "purpose")
