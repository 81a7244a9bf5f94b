"""Migrations 0030 and 0031 (SQLite): a file of the old shape, text ids
apart from their messages' rowids, becomes one whose text ids are the
rowids, with the same search answers, FTS5's index whole, no
``uq_message_texts_message``; a text goes with its message, a disbanded
conversation's or one deleted alone (no foreign key left to cascade:
0031's trigger); and back down, the unique key again with the answers."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.test_home_codes_migration import downgrade, upgrade
from tidings.domain.search import fts5_match, parse_query

WORDS = ("lunch at noon", "lunch later", "dinner plans", "noon meeting", "late lunch plans")


async def answers(conn: AsyncConnection, words: str) -> list[tuple[int, int]]:
    """The messages FTS5 matches, by their key."""
    rows = await conn.execute(text(
        "SELECT t.conversation_id, t.seq FROM message_texts_fts AS f"
        " JOIN message_texts AS t ON t.id = f.rowid WHERE message_texts_fts MATCH :m"
        " ORDER BY 1, 2"), {"m": fts5_match(parse_query(words).indexed)})
    return [(int(r[0]), int(r[1])) for r in rows]


async def integrity(conn: AsyncConnection) -> None:
    await conn.execute(text("INSERT INTO message_texts_fts (message_texts_fts, rank)"
                            " VALUES ('integrity-check', 1)"))


async def test_migration_0030_keys_texts_by_rowid_both_ways(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    # As the server's connections (store/engine.py): a disband cascades.
    event.listen(engine.sync_engine, "connect",
                 lambda dbapi_conn, _: dbapi_conn.execute("PRAGMA foreign_keys=ON"))
    queries = ("lunch", "noon", "plans", "dinner")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0029")
            for cid in (1, 2):
                await conn.execute(text(
                    "INSERT INTO conversations (id, sdkappid, kind, a, b, created_at)"
                    " VALUES (:id, 1, 'c2c', 'ann', :b, 1)"), {"id": cid, "b": f"u{cid}"})
            for i, words in enumerate(WORDS):
                cid, seq = 1 + i % 2, 1 + i // 2
                await conn.execute(text(
                    "INSERT INTO messages (conversation_id, seq, sdkappid, sender,"
                    " client_msg_id, elements, created_at) VALUES (:c, :s, 1, 'ann', :m, :e,"
                    " :at)"), {"c": cid, "s": seq, "m": f"m{i}", "at": 100 + i,
                               "e": orjson.dumps([{"type": "text", "text": words}]).decode()})
                # The old step's ids: not the rowids (given in another order).
                await conn.execute(text(
                    "INSERT INTO message_texts (id, conversation_id, seq, sdkappid, sender,"
                    " created_at, body) VALUES (:id, :c, :s, 1, 'ann', :at, :b)"),
                    {"id": 50 - i, "c": cid, "s": seq, "at": 100 + i, "b": words})
            await conn.execute(text("INSERT INTO message_texts_fts (message_texts_fts)"
                                    " VALUES ('rebuild')"))
            await conn.execute(text("UPDATE message_texts_fts_indexed SET indexed_to = 50"))
            await conn.execute(text("UPDATE message_texts_fts_built SET built_to ="
                                    " (SELECT max(rowid) FROM messages)"))
            before = {q: await answers(conn, q) for q in queries}
        assert before["lunch"] == [(1, 1), (1, 3), (2, 1)]
        async with engine.begin() as conn:
            # Not to 0034's, which makes the index again empty (its own test).
            await conn.run_sync(upgrade, "0033")
            assert {q: await answers(conn, q) for q in queries} == before
            keys = (await conn.execute(text(
                "SELECT count(*) FROM message_texts AS t JOIN messages AS m"
                " ON m.rowid = t.id AND m.conversation_id = t.conversation_id"
                " AND m.seq = t.seq"))).scalar_one()
            assert keys == len(WORDS)
            assert (await conn.execute(text(
                "SELECT indexed_to FROM message_texts_fts_indexed"))).scalar_one() == len(WORDS)
            assert "uq_message_texts_message" not in (await conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE name = 'message_texts'"))).scalar_one()
            await integrity(conn)
        async with engine.begin() as conn:
            # A disbanded conversation: its texts go (and from the index).
            await conn.execute(text("DELETE FROM conversations WHERE id = 2"))
            assert (await conn.execute(text(
                "SELECT count(*) FROM message_texts WHERE conversation_id = 2"))).scalar_one() == 0
            assert await answers(conn, "lunch") == [(1, 1), (1, 3)]
            await integrity(conn)
            # A message deleted alone (as retention does): its text goes too,
            # or it would hold the rowid SQLite gives the next message.
            await conn.execute(text("DELETE FROM messages WHERE conversation_id = 1 AND seq = 3"))
            assert (await conn.execute(text(
                "SELECT count(*) FROM message_texts"))).scalar_one() == 2
            assert await answers(conn, "lunch") == [(1, 1)]
            await integrity(conn)
        async with engine.begin() as conn:
            await conn.run_sync(downgrade, "0029")
            assert await answers(conn, "lunch") == [(1, 1)]
            assert await answers(conn, "plans") == [(1, 2)]
            await integrity(conn)
            with pytest.raises(IntegrityError):
                await conn.execute(text(
                    "INSERT INTO message_texts (conversation_id, seq, sdkappid, sender,"
                    " created_at, body) VALUES (1, 1, 1, 'ann', 1, 'twice')"))
    finally:
        await engine.dispose()


def test_no_later_revision_makes_messages_again() -> None:
    """Since 0030 a text's id on SQLite is its message's rowid, and the search
    pointers are rowids too: a revision that made ``messages`` again (an
    Alembic batch operation copies the rows without their rowids, packing
    them) would leave every text naming another message. Such a revision
    must copy ``rowid`` itself, and then be named here."""
    versions = Path(__file__).parents[1] / "src/tidings/store/migrations/versions"
    rebuilding = [p.name for p in sorted(versions.glob("*.py"))
                  if p.name[:4].isdigit() and int(p.name[:4]) > 30
                  and any(s in p.read_text() for s in (
                      'batch_alter_table("messages"', "batch_alter_table('messages'",
                      "CREATE TABLE messages", "ALTER TABLE messages RENAME"))]
    assert rebuilding == []
