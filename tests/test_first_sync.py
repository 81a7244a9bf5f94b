"""The first sync's one select (store/first_sync.py) answers what the three
reads it replaced answer, on SQLite and PostgreSQL: the conversations in
the same order, their settings (the member's own, none for a conversation
left at the defaults) and the one-to-one peers' read cursors (none for a
group), alone and asked with other users' first syncs in one turn (one
statement for all on PostgreSQL: Prepared.rows_each)."""

from __future__ import annotations

import asyncio

from tidings.store.conversation_settings import ConversationSettingsStore
from tidings.store.engine import Database
from tidings.store.first_sync import first_sync
from tidings.store.messages import MessageStore
from tidings.store.schema import conversation_members, conversation_settings, conversations

APP = 1400000078


async def test_one_select_answers_what_the_three_reads_answered(db: Database) -> None:
    c2c, group = "c2c", "group"
    chats = [  # (id, kind, a, b, last_seq, last_time, members and their read seqs)
        (1, c2c, "ann", "ben", 5, 300, {"ann": 2, "ben": 4}),
        (2, c2c, "ann", "cat", 1, 100, {"ann": 0, "cat": 1}),
        (3, group, "g1", "", 7, 300, {"ann": 7, "ben": 3, "cat": 6}),
        (4, c2c, "ben", "cat", 2, 400, {"ben": 1, "cat": 2}),
    ]
    async with db.writer.begin() as conn:
        for cid, kind, a, b, last_seq, last_time, members in chats:
            await conn.execute(conversations.insert().values(
                id=cid, sdkappid=APP, kind=kind, a=a, b=b, last_seq=last_seq,
                last_time=last_time, created_at=1))
            await conn.execute(conversation_members.insert(), [
                {"conversation_id": cid, "user_id": u, "sdkappid": APP, "read_seq": seq,
                 "joined_at": 1} for u, seq in members.items()])
        # ann's own settings of two conversations; ben's of the first (not ann's).
        for row in (
                {"conversation_id": 1, "user_id": "ann", "pinned": 1, "cleared_seq": 1,
                 "draft": "hi", "draft_time": 9},
                {"conversation_id": 3, "user_id": "ann", "muted": 1, "hidden_seq": 7},
                {"conversation_id": 1, "user_id": "ben", "muted": 1}):
            await conn.execute(conversation_settings.insert().values(
                sdkappid=APP, updated_at=1, **row))
    store, settings = MessageStore(db), ConversationSettingsStore(db)
    for user in ("ann", "ben", "cat", "nobody"):
        found = await first_sync(db, APP, user)
        states = await store.conversations_of(APP, user)
        assert found.states == states
        assert found.settings == await settings.of_user(APP, user)
        wanted = [s.conversation_id for s in states if s.key.kind.value == c2c]
        assert found.peer_reads == (await store.peer_read_seqs(wanted, user) if wanted else {})
    # Asked together (one statement for all on PostgreSQL: Prepared.rows_each),
    # each user's answer is the one it gets alone.
    who = ("ann", "ben", "cat", "nobody", "ann")
    together = await asyncio.gather(*(first_sync(db, APP, user) for user in who))
    assert together == [await first_sync(db, APP, user) for user in who]
    ann = await first_sync(db, APP, "ann")
    assert [s.conversation_id for s in ann.states] == [3, 1, 2]
    assert ann.peer_reads == {1: 4, 2: 1}
    assert ann.settings[1].pinned and ann.settings[1].draft == "hi"
    assert ann.settings[3].muted and ann.settings[3].hidden_seq == 7
    assert set(ann.settings) == {1, 3}
