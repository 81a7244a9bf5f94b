"""Reading conversations and messages, and moving read cursors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, tuple_, update

from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.store.callbacks import insert_events
from tidings.store.engine import Database
from tidings.store.schema import conversation_members, conversations, messages


@dataclass(frozen=True, slots=True)
class StoredMessage:
    conversation_id: int
    key: ConversationKey
    seq: int
    sender: str
    client_msg_id: str
    elements: str  # JSON text, as validated at send
    cloud_custom_data: str
    created_at: int
    state: int

    @property
    def msg_id(self) -> str:
        return f"{self.conversation_id}-{self.seq}"


@dataclass(frozen=True, slots=True)
class ConversationState:
    """One member's view of a conversation."""

    conversation_id: int
    key: ConversationKey
    last_seq: int
    last_time: int
    read_seq: int
    last_message: StoredMessage | None


def key_of(row: Any) -> ConversationKey:
    return ConversationKey(row.sdkappid, ConversationKind(row.kind), row.a, row.b)


def message_of(r: Any, key: ConversationKey) -> StoredMessage:
    return StoredMessage(
        conversation_id=r.conversation_id, key=key, seq=r.seq, sender=r.sender,
        client_msg_id=r.client_msg_id, elements=r.elements,
        cloud_custom_data=r.cloud_custom_data, created_at=r.created_at, state=r.state,
    )


class MessageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def membership(self, key: ConversationKey,
                         user_id: str) -> tuple[int, int, int] | None:
        """(conversation id, last seq, read seq) if the user is a member."""
        c, cm = conversations.c, conversation_members.c
        stmt = (
            select(c.id, c.last_seq, cm.read_seq)
            .join(conversation_members, cm.conversation_id == c.id)
            .where(c.sdkappid == key.sdkappid, c.kind == key.kind.value, c.a == key.a,
                   c.b == key.b, cm.user_id == user_id)
        )
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else (row.id, row.last_seq, row.read_seq)

    async def page(self, conversation_id: int, key: ConversationKey, *, after_seq: int = 0,
                   before_seq: int | None = None, up_to_seq: int | None = None,
                   limit: int, newest_first: bool = False) -> list[StoredMessage]:
        m = messages.c
        cond = [m.conversation_id == conversation_id, m.seq > after_seq]
        if before_seq is not None:
            cond.append(m.seq < before_seq)
        if up_to_seq is not None:
            cond.append(m.seq <= up_to_seq)
        order = m.seq.desc() if newest_first else m.seq.asc()
        stmt = select(messages).where(and_(*cond)).order_by(order).limit(limit)
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [message_of(r, key) for r in rows]

    async def conversations_of(self, sdkappid: int, user_id: str, *, limit: int | None = None,
                               with_last_message: bool = True) -> list[ConversationState]:
        """The user's conversations, most recently active first."""
        cm, c, m = conversation_members.c, conversations.c, messages.c
        stmt = (
            select(c.id, c.sdkappid, c.kind, c.a, c.b, c.last_seq, c.last_time, cm.read_seq)
            .join(conversation_members, cm.conversation_id == c.id)
            .where(cm.sdkappid == sdkappid, cm.user_id == user_id)
            .order_by(c.last_time.desc(), c.id.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(stmt)).all()
            last: dict[int, StoredMessage] = {}
            if with_last_message and rows:
                wanted = [(r.id, r.last_seq) for r in rows if r.last_seq > 0]
                keys = {r.id: key_of(r) for r in rows}
                for i in range(0, len(wanted), 400):
                    chunk = wanted[i:i + 400]
                    got = (await conn.execute(select(messages).where(
                        tuple_(m.conversation_id, m.seq).in_(chunk)))).all()
                    for r in got:
                        last[r.conversation_id] = message_of(r, keys[r.conversation_id])
        return [
            ConversationState(r.id, key_of(r), r.last_seq, r.last_time, r.read_seq, last.get(r.id))
            for r in rows
        ]

    async def mark_read(self, conversation_id: int, user_id: str, seq: int, *,
                        outbox: Callable[[int, int], tuple[int, str, str]] | None = None
                        ) -> int:
        """Move the read cursor forward (never back); returns where it stands.
        When it moved, ``outbox(read_seq, total unread of the user)`` makes
        the after-read callback row, written in the same transaction."""
        cm = conversation_members.c
        async with self._db.writer.begin() as conn:
            moved = await conn.execute(
                update(conversation_members)
                .where(cm.conversation_id == conversation_id, cm.user_id == user_id,
                       cm.read_seq < seq)
                .values(read_seq=seq)
            )
            row = (await conn.execute(
                select(cm.read_seq, cm.sdkappid).where(cm.conversation_id == conversation_id,
                                                       cm.user_id == user_id))).one()
            if outbox is not None and moved.rowcount:
                c = conversations.c
                total = (await conn.execute(
                    select(func.coalesce(func.sum(c.last_seq - cm.read_seq), 0))
                    .select_from(conversation_members)
                    .join(conversations, c.id == cm.conversation_id)
                    .where(cm.sdkappid == row.sdkappid, cm.user_id == user_id))).scalar_one()
                await insert_events(conn, [outbox(int(row.read_seq), int(total))])
        return int(row.read_seq)
