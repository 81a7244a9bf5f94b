"""PostgreSQL's keys from ``messages`` and ``message_texts`` to their
conversation, kept by statement triggers (migration 0026) instead of
foreign keys: a row of a missing conversation is refused with the key's
SQLSTATE and nothing of its statement is written; a conversation deleted
takes its messages and texts with it, also those of a transaction that
wrote in it meanwhile (the check's lock); the writer's batches pass."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.test_pg_batch import new_writer, seq_of
from tests.test_writer_rows import counts
from tidings.store.engine import Database

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

INSERT_MESSAGES = text(
    "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id, elements,"
    " created_at, msg_no) SELECT c, s, 1400000000, 'alice', 'x' || s, '[]', 0, s"
    " FROM unnest(CAST(:convs AS int[]), CAST(:seqs AS int8[])) AS u(c, s)")
INSERT_TEXT = text(
    "INSERT INTO message_texts (conversation_id, seq, sdkappid, sender, created_at, body)"
    " VALUES (:conv, 99, 1400000000, 'alice', 0, 'hello')")


async def conversation_id(db: Database) -> int:
    async with db.reader.connect() as conn:
        return int((await conn.execute(text("SELECT id FROM conversations"))).scalar_one())


async def test_rows_of_a_missing_conversation_are_refused(db: Database) -> None:
    writer = new_writer(db)
    try:
        assert await seq_of(writer, "m1") == (1, False)
        assert await seq_of(writer, "m2") == (2, False)
    finally:
        await writer.stop()
    conv = await conversation_id(db)
    before = await counts(db)
    # One statement: a good row beside a bad one, so nothing of it stays.
    for statement, params in ((INSERT_MESSAGES, {"convs": [conv, conv + 1000], "seqs": [50, 51]}),
                              (INSERT_TEXT, {"conv": conv + 1000})):
        with pytest.raises(IntegrityError) as refused:
            async with db.writer.begin() as conn:
                await conn.execute(statement, params)
        assert getattr(refused.value.orig, "sqlstate", None) == "23503"
    assert await counts(db) == before
    # Rows of an existing conversation pass the same check.
    async with db.writer.begin() as conn:
        await conn.execute(INSERT_MESSAGES, {"convs": [conv, conv], "seqs": [50, 51]})
        await conn.execute(INSERT_TEXT, {"conv": conv})
    assert (await counts(db))["messages"] == before["messages"] + 2


async def test_a_deleted_conversation_takes_its_rows(db: Database) -> None:
    writer = new_writer(db)
    try:
        for i in range(3):
            await seq_of(writer, f"m{i}")
    finally:
        await writer.stop()
    conv = await conversation_id(db)
    async with db.writer.begin() as conn:
        # A second conversation whose rows stay.
        other = (await conn.execute(text(
            "INSERT INTO conversations (sdkappid, kind, a, b, created_at)"
            " SELECT sdkappid, kind, a, 'carol', created_at FROM conversations"
            " WHERE id = :id RETURNING id"), {"id": conv})).scalar_one()
        await conn.execute(INSERT_MESSAGES, {"convs": [other], "seqs": [1]})
    async with db.writer.begin() as conn:
        await conn.execute(text("DELETE FROM conversations WHERE id = :id"), {"id": conv})
    async with db.reader.connect() as conn:
        left = (await conn.execute(text(
            "SELECT (SELECT count(*) FROM messages WHERE conversation_id = :id),"
            " (SELECT count(*) FROM message_texts WHERE conversation_id = :id),"
            " (SELECT count(*) FROM messages WHERE conversation_id = :other)"),
            {"id": conv, "other": other})).one()
    assert tuple(left) == (0, 0, 1)


async def test_a_delete_waits_for_the_rows_written_meanwhile(db: Database) -> None:
    """The check locks the conversation until the commit, as the key's did:
    a delete meanwhile waits, then takes the new rows with it (without the
    lock they would stay, of a conversation gone)."""
    writer = new_writer(db)
    try:
        await seq_of(writer, "m1")
    finally:
        await writer.stop()
    conv = await conversation_id(db)
    async with db.writer.connect() as inserting, db.writer.connect() as deleting:
        await inserting.begin()
        await inserting.execute(INSERT_MESSAGES, {"convs": [conv], "seqs": [50]})

        async def delete() -> None:
            await deleting.begin()
            await deleting.execute(text("DELETE FROM conversations WHERE id = :id"),
                                   {"id": conv})
            await deleting.commit()

        deleted = asyncio.create_task(delete())
        await asyncio.sleep(0.3)
        assert not deleted.done()  # held by the insert's lock
        await inserting.commit()
        await deleted
    async with db.reader.connect() as conn:
        left = (await conn.execute(text(
            "SELECT count(*) FROM messages WHERE conversation_id = :id"), {"id": conv})).one()
    assert left[0] == 0
