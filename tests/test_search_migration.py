"""Migration 0009 on a database that already holds messages: they become
searchable (messages only: not recalled ones, not change entries), on SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import database_url
from tests.pg import Cluster
from tidings.domain.search import fts5_match
from tidings.store.engine import MIGRATIONS
from tidings.store.search_index import index_step


def upgrade(conn: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def test_messages_stored_before_are_indexed(backend: str, pg_cluster: Cluster | None,
                                                  tmp_path: Path) -> None:
    url = (database_url(backend, pg_cluster, empty=True)
           or f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0008")
            await conn.execute(text(
                "INSERT INTO conversations (id, sdkappid, kind, a, b, created_at)"
                " VALUES (1, 7, 'c2c', 'alice', 'bob', 1)"))
            rows = [(1, '[{"type":"text","text":"Old Times in 北京"}]', 0, 0),
                    (2, '[]', 2, 0),  # recalled
                    (3, '[{"type":"text","text":"old but recalled"}]', 2, 0),
                    (4, '[]', 0, 1),  # the recall entry
                    (5, '[{"type":"image","variants":[{"kind":"thumb","url":"u"}]}]', 0, 0)]
            for seq, elements, state, kind in rows:
                await conn.execute(text(
                    "INSERT INTO messages (conversation_id, seq, sdkappid, sender,"
                    " client_msg_id, elements, created_at, state, kind)"
                    " VALUES (1, :seq, 7, 'alice', :cid, :elements, :at, :state, :kind)"),
                    {"seq": seq, "cid": f"m{seq}", "elements": elements, "at": 1000 + seq,
                     "state": state, "kind": kind})
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "head")
            stored = (await conn.execute(text(
                "SELECT seq, sdkappid, sender, created_at, body FROM message_texts"))).all()
            assert [tuple(r) for r in stored] == [(1, 7, "alice", 1001, "old times in 北京")]
            if backend == "sqlite":
                # Migration 0034 leaves the rows to the search step (its own
                # test): one step indexes them.
                await conn.run_sync(lambda c: index_step(c.connection.cursor(), 100))
                found = (await conn.execute(text(
                    "SELECT rowid FROM message_texts_fts WHERE message_texts_fts MATCH"
                    " :m"), {"m": fts5_match(("times in",))})).all()
                assert len(found) == 1
            else:
                index = (await conn.execute(text(
                    "SELECT indexdef FROM pg_indexes"
                    " WHERE indexname = 'ix_message_texts_body_trgm'"))).scalar()
                assert "gin" in index and "gin_trgm_ops" in index
    finally:
        await engine.dispose()
