"""The readers of ``messages`` by app and time without ``ix_messages_app_time``
(issue 19): retention finds its conversations by their first entry, on
both backends, and they are the conversations expiry removes something
from (an import older than its conversation's first message is not one)."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from tidings.domain.elements import ImportMode
from tidings.domain.ids import c2c_key
from tidings.domain.records import NewMessage
from tidings.store.engine import Database
from tidings.store.retention import RetentionStore
from tidings.store.schema import conversations
from tidings.store.writer import MessageWriter

APP, OTHER = 1400000061, 1400000062
OLD, BEFORE = 1_000_000, 2_000_000
BODY = orjson.dumps([{"type": "text", "text": "hi"}]).decode()


def message(app: int, a: str, b: str, n: int, time: int | None = None) -> NewMessage:
    return NewMessage(c2c_key(app, a, b), a, f"m{n}", BODY, "", time=time,
                      imported=ImportMode.NONE if time is None else ImportMode.HISTORY)


async def conversation_ids(db: Database, app: int) -> dict[str, int]:
    c = conversations.c
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(c.a, c.b, c.id).where(c.sdkappid == app))).all()
    # Each is ann's with another: by the other's name.
    return {str(b if a == "ann" else a): int(cid) for a, b, cid in rows}


async def test_retention_reads_each_conversation_by_its_first_entry(db: Database) -> None:
    writer = MessageWriter(db, max_batch=1000, on_commit=lambda _: None)
    writer.start()
    n = iter(range(1000))
    try:
        # old_first: its first entry is old (an import), then new ones.
        await writer.submit(message(APP, "ann", "old_first", next(n), OLD))
        await writer.submit(message(APP, "ann", "old_first", next(n), OLD + 1))
        await writer.submit(message(APP, "ann", "old_first", next(n)))
        # all_new: nothing old.
        await writer.submit(message(APP, "ann", "all_new", next(n)))
        # old_import: a new first entry, then an import from long ago.
        await writer.submit(message(APP, "ann", "old_import", next(n)))
        await writer.submit(message(APP, "ann", "old_import", next(n), OLD))
        # all_old: every entry old.
        await writer.submit(message(APP, "ann", "all_old", next(n), OLD))
        # Another app's old conversation.
        await writer.submit(message(OTHER, "ann", "old_first", next(n), OLD))
    finally:
        await writer.stop()
    ids = await conversation_ids(db, APP)
    store = RetentionStore(db)
    want = sorted([ids["old_first"], ids["all_old"]])
    assert await store.conversations_with_old(APP, BEFORE, 0, 100) == want
    # Paged by id.
    assert await store.conversations_with_old(APP, BEFORE, 0, 1) == want[:1]
    assert await store.conversations_with_old(APP, BEFORE, want[0], 100) == want[1:]
    assert await store.conversations_with_old(APP, BEFORE, want[1], 100) == []
    # Nothing is older than OLD.
    assert await store.conversations_with_old(APP, OLD, 0, 100) == []
    # The import older than its conversation's first entry: expiry removes
    # nothing there, so it is not listed.
    assert await store.expire_batch(ids["old_import"], BEFORE, 100) == 0
    # Once the prefix is gone, the conversation is no longer one.
    assert await store.expire_batch(ids["old_first"], BEFORE, 100) == 2
    assert await store.conversations_with_old(APP, BEFORE, 0, 100) == [ids["all_old"]]
    assert await store.expire_batch(ids["all_old"], BEFORE, 100) == 1
    assert await store.conversations_with_old(APP, BEFORE, 0, 100) == []
    assert await store.conversations_with_old(OTHER, BEFORE, 0, 100) == list(
        (await conversation_ids(db, OTHER)).values())
