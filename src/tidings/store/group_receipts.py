"""Group read receipts in the store. Nothing is written per message or per
reader: a member has read a message when their read cursor has passed its
seq, so the counts and the lists are queries over the group's member rows
(one row per member, read through the primary key's conversation prefix)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select

from tidings.domain.elements import EntryKind
from tidings.store.engine import Database
from tidings.store.schema import app_group_settings, conversation_members, messages


@dataclass(frozen=True, slots=True)
class Receipt:
    seq: int
    sender: str
    read: int
    # Members who can see the message, its sender left out.
    audience: int

    @property
    def unread(self) -> int:
        return self.audience - self.read


def _audience(seq: Any, sender: Any) -> ColumnElement[bool]:
    """The members a message at ``seq`` counts for: not its sender, and joined
    before it (Meeting groups show history to later members: they count)."""
    cm = conversation_members.c
    return and_(cm.visible_after < seq, cm.user_id != sender)


class GroupReceiptStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def max_members(self, sdkappid: int) -> int | None:
        """The app's size limit for receipts (None: the server's default)."""
        s = app_group_settings.c
        found = await self._db.scalar(select(s.read_receipts_max_members).where(
            s.sdkappid == sdkappid))
        return None if found is None else int(found)

    async def member_count(self, conversation_id: int) -> int:
        cm = conversation_members.c
        return int(await self._db.scalar(select(func.count()).where(
            cm.conversation_id == conversation_id)))

    async def receipts(self, conversation_id: int, seqs: list[int]) -> list[Receipt]:
        """The counts of the messages (not system or change entries) among ``seqs``."""
        m, cm = messages.c, conversation_members.c
        query = (
            select(m.seq, m.sender, func.count(cm.user_id).label("audience"),
                   func.coalesce(func.sum(case((cm.read_seq >= m.seq, 1), else_=0)), 0)
                   .label("read"))
            .select_from(messages.outerjoin(conversation_members, and_(
                cm.conversation_id == m.conversation_id, _audience(m.seq, m.sender))))
            .where(m.conversation_id == conversation_id, m.seq.in_(seqs),
                   m.kind == int(EntryKind.MESSAGE))
            .group_by(m.seq, m.sender).order_by(m.seq))
        rows = await self._db.rows(query)
        return [Receipt(r.seq, r.sender, int(r.read), int(r.audience)) for r in rows]

    async def readers(self, conversation_id: int, seq: int, sender: str, *, read: bool,
                      after: str, limit: int) -> list[str]:
        """A page of the members who have (or have not) read the message, by user id."""
        cm = conversation_members.c
        progress = cm.read_seq >= seq if read else cm.read_seq < seq
        rows = await self._db.rows(
            select(cm.user_id).where(cm.conversation_id == conversation_id,
                                     _audience(seq, sender), progress, cm.user_id > after)
            .order_by(cm.user_id).limit(limit))
        return [r.user_id for r in rows]

    async def senders_between(self, conversation_id: int, after_seq: int, up_to_seq: int,
                              reader: str, limit: int) -> list[tuple[int, str]]:
        """The newest ``limit`` messages in (after_seq, up_to_seq] that
        ``reader`` did not send, with their senders: whose receipts a read changed."""
        m = messages.c
        rows = await self._db.rows(
            select(m.seq, m.sender).where(
                m.conversation_id == conversation_id, m.seq > after_seq,
                m.seq <= up_to_seq, m.kind == int(EntryKind.MESSAGE), m.sender != reader)
            .order_by(m.seq.desc()).limit(limit))
        return [(r.seq, r.sender) for r in reversed(rows)]
