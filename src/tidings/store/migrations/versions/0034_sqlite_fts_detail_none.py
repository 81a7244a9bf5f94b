"""SQLite's FTS5 index of message texts keeps no positions (``detail=none``),
issue 19.

The trigram index with positions (``detail=full``, migration 0009) was
~9 us of the writer's ~41 a message at saturation with varied text, ~2.7
of them the positions, and 3x the pages (bench/journal/perf-text.md). A
search needs none of them: it asks for every trigram of each word
(domain/search.py ``fts5_match``) and checks the candidates with the LIKE
it already used for the rows above the watermark (store/search.py), so it
finds exactly what it found.

The table is made again, empty, with the same tokenizer and the settings
of migration 0029, and the watermark (``message_texts_fts_indexed``, 0021)
goes to 0: every text row is above it, so the triggers of 0021/0030 leave
the index alone for them, a search reads them with LIKE (``tail``: exact,
slower while the rows wait), and the search step (store/search_index.py)
indexes them in the background, ``CHUNK`` rows a step when the writer is
idle and between batches, the watermark moving with the rows in each
step's transaction. The migration itself is a few statements in the
migrations' one transaction: a crash in it leaves 0033's database, one
during the reindex a watermark that says what is left. The pointer of the
text rows (``built_to``, 0024) does not move: the rows stay as they are.
PostgreSQL: nothing (pg_trgm's GIN has no positions to drop).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

_SET = "INSERT INTO message_texts_fts (message_texts_fts, rank) VALUES ('{}', {})"


def _remake(detail: str) -> None:
    # The triggers of message_texts name the table, not its contents: they
    # stay (a DROP of a table a trigger body names is allowed).
    op.execute("DROP TABLE message_texts_fts")
    op.execute("CREATE VIRTUAL TABLE message_texts_fts USING fts5("
               "body, content='message_texts', content_rowid='id',"
               f" tokenize='trigram case_sensitive 1'{detail})")
    op.execute(_SET.format("automerge", 0))  # migration 0029's
    op.execute(_SET.format("crisismerge", 16))
    op.execute("UPDATE message_texts_fts_indexed SET indexed_to = 0")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _remake(", detail=none")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _remake("")
