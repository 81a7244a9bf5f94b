"""Reading conversations and messages, and moving read cursors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    bindparam,
    case,
    func,
    select,
    tuple_,
    update,
)

from tidings.domain.elements import EntryKind
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import ConversationState, StoredMessage
from tidings.store.callbacks import insert_events
from tidings.store.engine import Database
from tidings.store.prepared import Prepared, each
from tidings.store.reactions import Reactions, reactions_of
from tidings.store.schema import (
    conversation_members,
    conversation_settings,
    conversations,
    groups,
    messages,
)


@dataclass(frozen=True, slots=True)
class Membership:
    conversation_id: int
    last_seq: int
    read_seq: int
    last_msg_no: int
    read_msg_no: int
    visible_after: int = 0


@dataclass(frozen=True, slots=True)
class PageRange:
    """Entries (after_seq, up_to_seq] of one conversation, the first ``limit``."""

    conversation_id: int
    key: ConversationKey
    after_seq: int
    up_to_seq: int
    limit: int




def key_of(row: Any) -> ConversationKey:
    return ConversationKey(row.sdkappid, ConversationKind(row.kind), row.a, row.b)


def state_of(r: Any) -> ConversationState:
    """A row of ``CONVERSATION_COLUMNS`` as the member's state, without its
    last message."""
    return ConversationState(r.id, key_of(r), r.last_seq, r.last_time, r.read_seq, None,
                             r.last_msg_no, r.read_msg_no, visible_after=r.visible_after,
                             mention_seq=r.mention_seq, at_all_seq=r.at_all_seq,
                             last_message_seq=r.last_message_seq)


def message_of(r: Any, key: ConversationKey,
               target: StoredMessage | None = None) -> StoredMessage:
    return StoredMessage(
        conversation_id=r.conversation_id, key=key, seq=r.seq, sender=r.sender,
        client_msg_id=r.client_msg_id, elements=r.elements,
        cloud_custom_data=r.cloud_custom_data, created_at=r.created_at, state=r.state,
        kind=r.kind, target_seq=r.target_seq or 0, imported=r.imported,
        edited_at=r.edited_at, change_seq=r.change_seq, changed_by=r.changed_by or "",
        target=target, mentions=r.mentions or "",
    )


# The first sync's statements, built once: building a select and its cache
# key cost several times its execution (~0.4 + 0.25 ms here, on every
# login); a statement kept whole keeps its cache key too.
_cm, _c = conversation_members.c, conversations.c
# What state_of reads (store/first_sync.py selects them too).
CONVERSATION_COLUMNS = (_c.id, _c.sdkappid, _c.kind, _c.a, _c.b, _c.last_seq, _c.last_time,
                        _cm.read_seq, _c.last_message_seq, _c.last_msg_no, _cm.read_msg_no,
                        _cm.visible_after, _cm.mention_seq, _c.at_all_seq)
_CONVERSATIONS_OF = Prepared(
    select(*CONVERSATION_COLUMNS)
    .join(conversation_members, _cm.conversation_id == _c.id)
    .where(_cm.sdkappid == bindparam("sdkappid"), _cm.user_id == bindparam("user_id"))
    .order_by(_c.last_time.desc(), _c.id.desc())
)
_PEER_READ_SEQS = select(_cm.conversation_id, _cm.read_seq).where(
    _cm.conversation_id.in_(bindparam("ids", expanding=True)),
    _cm.user_id != bindparam("user_id"))
# One range of a sync's pages (MessageStore.pages).
_RANGE = Prepared(
    select(messages)
    .where(messages.c.conversation_id == bindparam("conversation_id"),
           messages.c.seq > bindparam("after_seq"), messages.c.seq <= bindparam("up_to_seq"))
    .order_by(messages.c.seq).limit(bindparam("limit", type_=Integer))
)
_MEMBERSHIP = (
    select(_c.id, _c.last_seq, _cm.read_seq, _c.last_msg_no, _cm.read_msg_no,
           _cm.visible_after)
    .join(conversation_members, _cm.conversation_id == _c.id)
    .where(_c.sdkappid == bindparam("sdkappid"), _c.kind == bindparam("kind"),
           _c.a == bindparam("a"), _c.b == bindparam("b"), _cm.user_id == bindparam("user_id"))
)
# The member's cleared history (conversation settings), beside _MEMBERSHIP.
_CLEARED_SEQ = (select(conversation_settings.c.cleared_seq)
                .where(conversation_settings.c.conversation_id == _c.id,
                       conversation_settings.c.user_id == _cm.user_id)
                .scalar_subquery().label("cleared_seq"))
_MEMBER_SEES = _MEMBERSHIP.add_columns(_CLEARED_SEQ)


def _membership(row: Any) -> Membership:
    return Membership(row.id, row.last_seq, row.read_seq, row.last_msg_no, row.read_msg_no,
                      row.visible_after)


def _page(conn: Connection, conversation_id: int, key: ConversationKey, *, after_seq: int,
          before_seq: int | None, up_to_seq: int | None = None, limit: int,
          newest_first: bool, messages_only: bool) -> list[StoredMessage]:
    """MessageStore.page's read: the page and its changes' targets in one snapshot."""
    m = messages.c
    cond = [m.conversation_id == conversation_id, m.seq > after_seq]
    if before_seq is not None:
        cond.append(m.seq < before_seq)
    if up_to_seq is not None:
        cond.append(m.seq <= up_to_seq)
    if messages_only:
        cond.append(m.kind == EntryKind.MESSAGE)
    order = m.seq.desc() if newest_first else m.seq.asc()
    rows = conn.execute(select(messages).where(and_(*cond)).order_by(order).limit(limit)).all()
    targets: dict[int, StoredMessage] = {}
    wanted = sorted({r.target_seq for r in rows if r.kind != EntryKind.MESSAGE})
    for i in range(0, len(wanted), 400):
        got = conn.execute(select(messages).where(
            m.conversation_id == conversation_id, m.seq.in_(wanted[i:i + 400]))).all()
        targets.update((r.seq, message_of(r, key)) for r in got)
    return [message_of(r, key, targets.get(r.target_seq) if r.kind else None) for r in rows]


def _member(conn: Connection, key: ConversationKey, user_id: str
            ) -> tuple[Membership | None, int]:
    """The user's membership and the seq after which it sees the
    conversation (its join, its cleared history), in one statement."""
    row = conn.execute(_MEMBER_SEES, {"sdkappid": key.sdkappid, "kind": key.kind.value,
                                      "a": key.a, "b": key.b, "user_id": user_id}).first()
    if row is None:
        return None, 0
    return _membership(row), max(row.visible_after, row.cleared_seq or 0)


def _reactions(conn: Connection, rows: Sequence[StoredMessage]) -> Reactions:
    """The reactions of the messages among ``rows`` (a change entry has none)."""
    wanted = [(m.conversation_id, m.seq) for m in rows if m.kind == EntryKind.MESSAGE]
    return reactions_of(conn, wanted) if wanted else {}


def _at(conn: Connection, entries: Sequence[tuple[int, int]], *cols: Any) -> Iterator[Any]:
    """The rows of ``messages`` (or ``cols`` of them) at these entries
    ((conversation, seq)) that exist, in chunks of 400 pairs (a statement's
    parameters stay under SQLite's limit)."""
    m = messages.c
    for i in range(0, len(entries), 400):
        yield from conn.execute(select(*(cols or (messages,))).where(
            tuple_(m.conversation_id, m.seq).in_(list(entries[i:i + 400]))))


def last_messages_of(conn: Connection, states: Sequence[ConversationState]
                     ) -> dict[int, StoredMessage]:
    """The newest message of each of these conversations, by number (the
    conversation list's, in its read)."""
    # Not one from before a group member joined.
    wanted = [(s.conversation_id, s.last_message_seq) for s in states
              if s.last_message_seq > s.visible_after]
    keys = {s.conversation_id: s.key for s in states}
    return {r.conversation_id: message_of(r, keys[r.conversation_id])
            for r in _at(conn, wanted)}


class MessageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def db(self) -> Database:
        """For the reads that join this store's rows to others' (store/first_sync.py)."""
        return self._db

    async def membership(self, key: ConversationKey, user_id: str) -> Membership | None:
        """The conversation and the user's cursor, if the user is a member."""
        row = await self._db.first(_MEMBERSHIP, {
            "sdkappid": key.sdkappid, "kind": key.kind.value, "a": key.a, "b": key.b,
            "user_id": user_id})
        return None if row is None else _membership(row)

    async def conversation_number(self, key: ConversationKey) -> int | None:
        c = conversations.c
        found = await self._db.scalar(select(c.id).where(
            c.sdkappid == key.sdkappid, c.kind == key.kind.value, c.a == key.a,
            c.b == key.b))
        return None if found is None else int(found)

    async def member_ids(self, conversation_id: int) -> list[str]:
        cm = conversation_members.c
        rows = await self._db.rows(select(cm.user_id).where(
            cm.conversation_id == conversation_id))
        return [r.user_id for r in rows]

    async def group_exists(self, key: ConversationKey) -> bool:
        g = groups.c
        row = await self._db.first(select(g.conversation_id).where(
            g.sdkappid == key.sdkappid, g.group_id == key.a))
        return row is not None

    async def conversation_key(self, sdkappid: int,
                               conversation_id: int) -> ConversationKey | None:
        """The key of an internal conversation number, if it is this app's."""
        c = conversations.c
        row = await self._db.first(select(c.sdkappid, c.kind, c.a, c.b)
                                   .where(c.id == conversation_id, c.sdkappid == sdkappid))
        return None if row is None else key_of(row)

    async def page(self, conversation_id: int, key: ConversationKey, *, after_seq: int = 0,
                   before_seq: int | None = None, up_to_seq: int | None = None,
                   limit: int, newest_first: bool = False,
                   messages_only: bool = False) -> list[StoredMessage]:
        """Entries of one conversation by seq; a change entry comes with its
        target as it stands now. ``messages_only`` leaves change entries out."""
        return await self._db.read(lambda conn: _page(
            conn, conversation_id, key, after_seq=after_seq, before_seq=before_seq,
            up_to_seq=up_to_seq, limit=limit, newest_first=newest_first,
            messages_only=messages_only))

    async def history_page(self, key: ConversationKey, user_id: str, *,
                           before_seq: int | None, limit: int, reactions: bool = False
                           ) -> tuple[Membership | None, list[StoredMessage], Reactions]:
        """A member's newest messages before ``before_seq`` (messages only,
        newest first), from what the member may see (joined, not cleared),
        with the membership and (``reactions``) their reactions: what
        ``membership``, the settings' cleared seq, ``page`` and the
        reactions' store answer, in one read (a history op was four
        hand-offs, each several aiosqlite round trips before)."""

        def read(conn: Connection) -> tuple[Membership | None, list[StoredMessage], Reactions]:
            found, seen_after = _member(conn, key, user_id)
            if found is None:
                return None, [], {}
            rows = _page(conn, found.conversation_id, key, after_seq=seen_after,
                         before_seq=before_seq, limit=limit, newest_first=True,
                         messages_only=True)
            return found, rows, _reactions(conn, rows) if reactions else {}

        return await self._db.read(read)

    async def history_around(self, key: ConversationKey, user_id: str, *, seq: int,
                             limit: int, reactions: bool = False
                             ) -> tuple[Membership | None, list[StoredMessage],
                                        list[StoredMessage], Reactions]:
        """Around ``seq``, from what the member may see: up to ``limit``
        messages at or before it (newest first) and up to ``limit`` after it
        (oldest first), with the membership and (``reactions``) their
        reactions, in one read as ``history_page``'s."""

        def read(conn: Connection) -> tuple[Membership | None, list[StoredMessage],
                                            list[StoredMessage], Reactions]:
            found, seen_after = _member(conn, key, user_id)
            if found is None:
                return None, [], [], {}
            older = _page(conn, found.conversation_id, key, after_seq=seen_after,
                          before_seq=seq + 1, limit=limit, newest_first=True,
                          messages_only=True)
            newer = _page(conn, found.conversation_id, key, after_seq=max(seq, seen_after),
                          before_seq=None, limit=limit, newest_first=False,
                          messages_only=True)
            return found, older, newer, _reactions(conn, older + newer) if reactions else {}

        return await self._db.read(read)

    async def states_of(self, entries: Sequence[tuple[int, int]]) -> dict[tuple[int, int], int]:
        """The state of each of these entries ((conversation, seq)) that exists."""
        m = messages.c

        def read(conn: Connection) -> dict[tuple[int, int], int]:
            return {(r.conversation_id, r.seq): r.state
                    for r in _at(conn, entries, m.conversation_id, m.seq, m.state)}

        return await self._db.read(read)

    async def pages(self, ranges: Sequence[PageRange], *, reactions: bool = False
                    ) -> tuple[dict[int, list[StoredMessage]], Reactions]:
        """What ``page`` reads, for many conversations at once (sync), in
        one read with (``reactions``) the messages' reactions: each range an
        indexed ``ORDER BY seq LIMIT n`` select compiled once (``_RANGE``),
        on SQLite run per range on the driver's cursor, on PostgreSQL one
        statement for all (``Prepared.rows_each``). A UNION ALL of a branch
        per range, built per sync, cost more to build, key and compile than
        to run (bench/common_reads.py, py-spy). Each conversation's entries
        in its ranges' order, each range's by seq."""
        if not ranges:
            # A sync with nothing new (every login's first, with limit 0):
            # no hand-off to a reader at all.
            return {}, {}
        each_range = [{"conversation_id": r.conversation_id, "after_seq": r.after_seq,
                       "up_to_seq": r.up_to_seq, "limit": r.limit} for r in ranges]
        keys = {r.conversation_id: r.key for r in ranges}

        def read(conn: Connection) -> tuple[dict[int, list[StoredMessage]], Reactions]:
            pages = each(_RANGE, conn, each_range)
            wanted = sorted({(r.conversation_id, r.target_seq) for page in pages
                             for r in page if r.kind != EntryKind.MESSAGE})
            targets = {(r.conversation_id, r.seq): message_of(r, keys[r.conversation_id])
                       for r in _at(conn, wanted)}
            found: dict[int, list[StoredMessage]] = {r.conversation_id: [] for r in ranges}
            for planned, page in zip(ranges, pages, strict=True):
                found[planned.conversation_id] += [
                    message_of(r, planned.key,
                               targets.get((r.conversation_id, r.target_seq)) if r.kind else None)
                    for r in page]
            shown = [m for rows in found.values() for m in rows] if reactions else []
            return found, _reactions(conn, shown) if shown else {}

        return await self._db.read(read)

    async def conversations_of(self, sdkappid: int, user_id: str) -> list[ConversationState]:
        """The user's conversations, most recently active first, without
        their last messages (the conversation list's are
        first_sync.conversation_list's)."""
        who = {"sdkappid": sdkappid, "user_id": user_id}
        rows = await self._db.read(lambda conn: _CONVERSATIONS_OF.rows(conn, who))
        return [state_of(r) for r in rows]

    async def mark_read(self, conversation_id: int, user_id: str, seq: int, *,
                        outbox: Callable[[int, int, int], tuple[int, str, str]] | None = None
                        ) -> tuple[int, int]:
        """Move the read cursor forward (never back); returns where it stands:
        (read seq, the running message count there). When it moved,
        ``outbox(read_seq, read msg count, total unread of the user)`` makes the after-read
        callback row, written in the same transaction."""
        cm, m = conversation_members.c, messages.c
        c = conversations.c
        # An entry removed by retention (store/retention.py) counts as the
        # end of the expired prefix.
        expired = (select(case((c.expired_seq >= seq, c.expired_msg_no), else_=0))
                   .where(c.id == conversation_id).scalar_subquery())
        msg_no = (select(func.coalesce(func.max(m.msg_no), expired))
                  .where(m.conversation_id == conversation_id, m.seq == seq)
                  .scalar_subquery())
        async with self._db.writer.begin() as conn:
            moved = await conn.execute(
                update(conversation_members)
                .where(cm.conversation_id == conversation_id, cm.user_id == user_id,
                       cm.read_seq < seq)
                .values(read_seq=seq, read_msg_no=msg_no)
            )
            row = (await conn.execute(
                select(cm.read_seq, cm.read_msg_no, cm.sdkappid).where(
                    cm.conversation_id == conversation_id, cm.user_id == user_id))).one()
            if outbox is not None and moved.rowcount:
                total = (await conn.execute(
                    select(func.coalesce(func.sum(c.last_msg_no - cm.read_msg_no), 0))
                    .select_from(conversation_members)
                    .join(conversations, c.id == cm.conversation_id)
                    .where(cm.sdkappid == row.sdkappid, cm.user_id == user_id))).scalar_one()
                await insert_events(conn, [outbox(int(row.read_seq), int(row.read_msg_no),
                                                  int(total))])
        return int(row.read_seq), int(row.read_msg_no)

    async def peer_read_seqs(self, conversation_ids: list[int],
                             user_id: str) -> dict[int, int]:
        """For one-to-one conversations: the other member's read cursor."""

        def read(conn: Connection) -> dict[int, int]:
            found: dict[int, int] = {}
            for i in range(0, len(conversation_ids), 400):
                rows = conn.execute(_PEER_READ_SEQS, {"ids": conversation_ids[i:i + 400],
                                                      "user_id": user_id})
                found.update((r.conversation_id, r.read_seq) for r in rows)
            return found

        return await self._db.read(read)
