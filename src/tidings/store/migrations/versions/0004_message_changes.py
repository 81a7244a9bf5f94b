"""Message changes: recall and edit (state, edited_at, who changed it), imported messages.

Changes are entries of the conversation's seq stream (``messages.kind``), so
that catch-up by seq carries them; unread counts come from a running count of
countable messages (``msg_no``) instead of ``last_seq - read_seq``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MESSAGE_COLUMNS = ("changed_by", "change_seq", "edited_at", "imported", "msg_no",
                    "target_seq", "kind")


def upgrade() -> None:
    # ADD COLUMN with a constant default (or NULL) works in place on SQLite
    # and PostgreSQL.
    op.add_column("messages", sa.Column("kind", sa.SmallInteger, nullable=False,
                                        server_default="0"))
    op.add_column("messages", sa.Column("target_seq", sa.BigInteger, nullable=True))
    op.add_column("messages", sa.Column("msg_no", sa.BigInteger, nullable=False,
                                        server_default="0"))
    op.add_column("messages", sa.Column("imported", sa.SmallInteger, nullable=False,
                                        server_default="0"))
    op.add_column("messages", sa.Column("edited_at", sa.BigInteger, nullable=True))
    op.add_column("messages", sa.Column("change_seq", sa.BigInteger, nullable=False,
                                        server_default="0"))
    op.add_column("messages", sa.Column("changed_by", sa.String(64), nullable=True))
    op.add_column("conversations", sa.Column("last_message_seq", sa.BigInteger,
                                             nullable=False, server_default="0"))
    op.add_column("conversations", sa.Column("last_msg_no", sa.BigInteger, nullable=False,
                                             server_default="0"))
    op.add_column("conversation_members", sa.Column("read_msg_no", sa.BigInteger,
                                                    nullable=False, server_default="0"))
    # Until now every entry was a sent message: the running count is the seq.
    op.execute("UPDATE messages SET msg_no = seq")
    op.execute("UPDATE conversations SET last_message_seq = last_seq, last_msg_no = last_seq")
    op.execute("UPDATE conversation_members SET read_msg_no = read_seq")


def downgrade() -> None:
    with op.batch_alter_table("conversation_members") as batch:
        batch.drop_column("read_msg_no")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("last_msg_no")
        batch.drop_column("last_message_seq")
    with op.batch_alter_table("messages") as batch:
        for column in _MESSAGE_COLUMNS:
            batch.drop_column(column)
