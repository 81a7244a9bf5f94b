"""Reactions to messages: one row per (message, user, emoji)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from tidings.store.engine import Database
from tidings.store.schema import message_reactions

# (conversation_id, seq) -> [(emoji, user)], in the order they were added.
Reactions = dict[tuple[int, int], list[tuple[str, str]]]


def reactions_of(conn: Connection, messages: Sequence[tuple[int, int]]) -> Reactions:
    """``ReactionStore.of_messages``'s read, for a read of more (history's)."""
    r = message_reactions.c
    found: Reactions = {}
    for i in range(0, len(messages), 400):
        rows = conn.execute(
            select(r.conversation_id, r.seq, r.emoji, r.user_id).where(
                tuple_(r.conversation_id, r.seq).in_(list(messages[i:i + 400])))
            .order_by(r.conversation_id, r.seq, r.created_at, r.user_id))
        for row in rows:
            found.setdefault((row.conversation_id, row.seq), []).append((row.emoji, row.user_id))
    return found


class ReactionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, conversation_id: int, seq: int, user_id: str, emoji: str,
                  sdkappid: int, now: int, max_per_user: int) -> bool | None:
        """True when added, False when it was there; None when the user
        already has ``max_per_user`` emoji on this message."""
        r = message_reactions.c
        t = message_reactions
        insert = sqlite.insert(t) if self._db.dialect == "sqlite" else postgresql.insert(t)
        async with self._db.writer.begin() as conn:
            mine = set((await conn.execute(select(r.emoji).where(
                r.conversation_id == conversation_id, r.seq == seq,
                r.user_id == user_id))).scalars())
            if emoji in mine:
                return False
            if len(mine) >= max_per_user:
                return None
            done = await conn.execute(insert.values(
                conversation_id=conversation_id, seq=seq, user_id=user_id, emoji=emoji,
                sdkappid=sdkappid, created_at=now).on_conflict_do_nothing())
        return bool(done.rowcount)

    async def remove(self, conversation_id: int, seq: int, user_id: str, emoji: str) -> bool:
        r = message_reactions.c
        async with self._db.writer.begin() as conn:
            done = await conn.execute(delete(message_reactions).where(
                r.conversation_id == conversation_id, r.seq == seq, r.user_id == user_id,
                r.emoji == emoji))
        return bool(done.rowcount)

    async def of_messages(self, messages: Sequence[tuple[int, int]]) -> Reactions:
        """The reactions of messages of any number of conversations."""
        return await self._db.read(lambda conn: reactions_of(conn, messages))
