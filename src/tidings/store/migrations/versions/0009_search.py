"""Full-text message search (issue 4): ``message_texts`` and its index
(SQLite: an FTS5 trigram table kept by triggers; PostgreSQL: pg_trgm GIN),
filled from the messages already stored.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

from tidings.domain.search import searchable_text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The FTS5 table reads its text from message_texts (external content), so the
# text is stored once; case-sensitive, because the text and the queries are
# lowered in Python already (domain/search.py), as PostgreSQL sees them. The
# triggers keep the index in step with every insert, delete (a recall, a
# disbanded group's cascade) and update.
_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE message_texts_fts USING fts5("
    "body, content='message_texts', content_rowid='id',"
    " tokenize='trigram case_sensitive 1')",
    "CREATE TRIGGER message_texts_ai AFTER INSERT ON message_texts BEGIN"
    " INSERT INTO message_texts_fts (rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER message_texts_ad AFTER DELETE ON message_texts BEGIN"
    " INSERT INTO message_texts_fts (message_texts_fts, rowid, body)"
    " VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER message_texts_au AFTER UPDATE ON message_texts BEGIN"
    " INSERT INTO message_texts_fts (message_texts_fts, rowid, body)"
    " VALUES ('delete', old.id, old.body);"
    " INSERT INTO message_texts_fts (rowid, body) VALUES (new.id, new.body); END",
]

_BACKFILL_PAGE = 2000


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite":
        # FTS5's trigram tokenizer needs SQLite 3.34: say so rather than fail obscurely.
        try:
            bind.exec_driver_sql("CREATE VIRTUAL TABLE temp.tidings_fts_probe USING fts5("
                                 "body, tokenize='trigram')")
            bind.exec_driver_sql("DROP TABLE temp.tidings_fts_probe")
        except sa.exc.OperationalError as exc:
            raise RuntimeError("message search needs SQLite 3.34 or newer built with FTS5 "
                               f"(this Python links SQLite {sqlite3.sqlite_version})") from exc
    op.create_table(
        "message_texts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("conversation_id", sa.Integer,
                  sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("sdkappid", sa.BigInteger, nullable=False),
        sa.Column("sender", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_message_texts_message"),
    )
    op.create_index("ix_message_texts_app_time", "message_texts", ["sdkappid", "created_at"])
    if dialect == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index("ix_message_texts_body_trgm", "message_texts", ["body"],
                        postgresql_using="gin", postgresql_ops={"body": "gin_trgm_ops"})
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)
    _backfill(bind)


def _backfill(bind: sa.Connection) -> None:
    """Index the messages stored before this revision: kind 0 (messages),
    not recalled (state 2), page by page in key order."""
    m = sa.table("messages", sa.column("conversation_id"), sa.column("seq"),
                 sa.column("sdkappid"), sa.column("sender"), sa.column("created_at"),
                 sa.column("elements"), sa.column("kind"), sa.column("state"))
    t = sa.table("message_texts", sa.column("conversation_id"), sa.column("seq"),
                 sa.column("sdkappid"), sa.column("sender"), sa.column("created_at"),
                 sa.column("body"))
    after = (0, 0)
    while True:
        rows = bind.execute(
            sa.select(m.c.conversation_id, m.c.seq, m.c.sdkappid, m.c.sender, m.c.created_at,
                      m.c.elements)
            .where(m.c.kind == 0, m.c.state != 2,
                   sa.tuple_(m.c.conversation_id, m.c.seq) > sa.tuple_(*after))
            .order_by(m.c.conversation_id, m.c.seq).limit(_BACKFILL_PAGE)).all()
        if not rows:
            return
        values = [{"conversation_id": r.conversation_id, "seq": r.seq, "sdkappid": r.sdkappid,
                   "sender": r.sender, "created_at": r.created_at, "body": body}
                  for r in rows if (body := searchable_text(r.elements))]
        if values:
            bind.execute(sa.insert(t), values)
        after = (rows[-1].conversation_id, rows[-1].seq)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_index("ix_message_texts_body_trgm", table_name="message_texts")
    else:
        for name in ("message_texts_au", "message_texts_ad", "message_texts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS message_texts_fts")
    op.drop_index("ix_message_texts_app_time", table_name="message_texts")
    op.drop_table("message_texts")
