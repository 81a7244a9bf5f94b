"""Message retention: each app's window, and the expiry of a conversation's
oldest entries with what hangs off them (search rows, reactions, media
references, mention markers).

Expiry removes a prefix of each conversation, never a hole: the entries
before the first one still inside the window. Read cursors count messages
with ``msg_no`` and a conversation its ``last_msg_no``; neither changes, and
``conversations.expired_msg_no`` keeps the count where the prefix ends, so
unread counts stay right and seq numbering simply carries on. Each batch is
one transaction that also moves ``expired_seq``: a run killed half way
leaves a shorter prefix, and the next run continues from there."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tidings.store.engine import Database
from tidings.store.schema import (
    app_retention,
    conversation_members,
    conversations,
    media_refs,
    message_reactions,
    message_texts,
    messages,
)

# Tables keyed by (conversation_id, seq) whose rows belong to one entry.
_HANGING_OFF = (message_texts, message_reactions, media_refs)


class RetentionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def days(self, sdkappid: int) -> int:
        """The app's window in days; 0: kept for ever."""
        async with self._db.reader.connect() as conn:
            found = await conn.scalar(select(app_retention.c.days).where(
                app_retention.c.sdkappid == sdkappid))
        return int(found or 0)

    async def set_days(self, sdkappid: int, days: int, now: int) -> None:
        """Set the window; 0 removes it (messages are kept again)."""
        async with self._db.writer.begin() as conn:
            if days == 0:
                await conn.execute(delete(app_retention).where(
                    app_retention.c.sdkappid == sdkappid))
                return
            insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
            stmt = insert(app_retention).values(sdkappid=sdkappid, days=days, updated_at=now)
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=[app_retention.c.sdkappid],
                set_={"days": days, "updated_at": now}))

    async def windows(self) -> list[tuple[int, int]]:
        """(sdkappid, days) of every app with a window."""
        r = app_retention.c
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(r.sdkappid, r.days).order_by(r.sdkappid))
            return [(int(row.sdkappid), int(row.days)) for row in rows]

    async def conversations_with_old(self, sdkappid: int, before: int, after_id: int,
                                     limit: int) -> list[int]:
        """Conversations of the app, in id order after ``after_id``, whose first
        entry was created before ``before`` (ms): those ``expire_batch`` has
        something to remove from, since expiry takes a prefix. Each is checked
        by one row of ``messages``' key (its lowest seq), so the read is the
        app's conversations, not its messages (there is no index of messages
        by app and time to read them by: issue 19). A conversation whose first
        entry is newer but holds an older import is not one: the prefix
        before its first entry at or after ``before`` is empty."""
        c, m = conversations.c, messages.c
        first = (select(m.created_at).where(m.conversation_id == c.id)
                 .order_by(m.seq).limit(1).scalar_subquery())
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(
                select(c.id).where(c.sdkappid == sdkappid, c.id > after_id, first < before)
                .order_by(c.id).limit(limit))
            return [int(cid) for cid in rows.scalars()]

    async def expire_batch(self, conversation_id: int, before: int, limit: int) -> int:
        """Remove up to ``limit`` of the conversation's oldest entries that
        precede its first entry created at or after ``before``, with their
        rows elsewhere, in one transaction; returns how many went."""
        m = messages.c
        async with self._db.writer.begin() as conn:
            kept = (select(func.min(m.seq)).where(m.conversation_id == conversation_id,
                                                  m.created_at >= before).scalar_subquery())
            # A conversation whose entries are all old loses all of them.
            rows = (await conn.execute(
                select(m.seq, m.msg_no).where(
                    m.conversation_id == conversation_id,
                    m.seq < func.coalesce(kept, m.seq + 1))
                .order_by(m.seq).limit(limit))).all()
            if not rows:
                return 0
            last_seq, last_msg_no = int(rows[-1].seq), int(rows[-1].msg_no)
            for table in (*_HANGING_OFF, messages):
                if table is message_texts and self._db.dialect == "sqlite":
                    # Its texts have no key by conversation there: they go
                    # with their messages (migration 0031's trigger).
                    continue
                await conn.execute(delete(table).where(table.c.conversation_id == conversation_id,
                                                       table.c.seq <= last_seq))
            c, cm = conversations.c, conversation_members.c
            await conn.execute(update(conversations).where(c.id == conversation_id)
                               .values(expired_seq=last_seq, expired_msg_no=last_msg_no))
            # The "@me" and "@all" markers pointed at messages that are gone.
            await conn.execute(update(conversation_members).where(
                cm.conversation_id == conversation_id, cm.mention_seq > 0,
                cm.mention_seq <= last_seq).values(mention_seq=0))
            await conn.execute(update(conversations).where(
                c.id == conversation_id, c.at_all_seq > 0, c.at_all_seq <= last_seq)
                .values(at_all_seq=0))
        return len(rows)
