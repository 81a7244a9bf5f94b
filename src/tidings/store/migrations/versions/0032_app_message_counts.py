"""Messages per app and minute, kept by the writer (issue 19).

The figures' "messages today" and "messages" per step read
``ix_messages_app_time``, an index every message's INSERT pays for (~4 %
of a batch of 200 on SQLite, ~8 % of a row on PostgreSQL:
bench/journal/perf-rows13.md). ``app_message_counts`` holds the same counts by
minute,
one upsert per app and minute per batch; this fills it from ``messages``
(entries of kind 0, by the minute of their ``created_at``), while the
index is there to read them by. Each process adds to its own rows
(``node``, as ``app_minutes``); these filled ones are node ''. On
SQLite the counts are the search step's, after the commits, from its
pointer on (``built_to``, 0024): this fills those up to it, and a
trigger counts a message deleted before the step reached it.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

UNCOUNTED_TRIGGER = "app_message_counts_uncounted_bd"


def upgrade() -> None:
    op.create_table(
        "app_message_counts",
        sa.Column("sdkappid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("minute", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("node", sa.String(32), primary_key=True),
        sa.Column("messages", sa.BigInteger, nullable=False),
    )
    # On SQLite the search step counts the messages past its pointer
    # (store/search_index.py count_messages): those are its, not filled
    # here, or they would count twice.
    past = (" AND rowid <= (SELECT built_to FROM message_texts_fts_built)"
            if op.get_bind().dialect.name == "sqlite" else "")
    op.execute("INSERT INTO app_message_counts (sdkappid, minute, node, messages)"
               " SELECT sdkappid, created_at - created_at % 60000, '', count(*) FROM messages"
               f" WHERE kind = 0{past} GROUP BY sdkappid, created_at - created_at % 60000")
    if past:
        # A message deleted before the step counted it (a disbanded group,
        # a conversation's retention, seconds after the commit) is counted
        # as it goes: sent. BEFORE: 0024's AFTER trigger may bring the
        # pointer down below it.
        op.execute(f"CREATE TRIGGER {UNCOUNTED_TRIGGER} BEFORE DELETE ON messages"
                   " WHEN old.kind = 0 AND old.rowid >"
                   " (SELECT built_to FROM message_texts_fts_built) BEGIN"
                   " INSERT INTO app_message_counts (sdkappid, minute, node, messages)"
                   " VALUES (old.sdkappid, old.created_at - old.created_at % 60000, '', 1)"
                   " ON CONFLICT (sdkappid, minute, node) DO UPDATE"
                   " SET messages = app_message_counts.messages + 1; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {UNCOUNTED_TRIGGER}")
    op.drop_table("app_message_counts")
