"""Message search in the database's own index: FTS5 (trigram) on SQLite,
pg_trgm (GIN) on PostgreSQL, over ``message_texts``; what a match means is
in domain/search.py. ``TextRows`` keeps ``message_texts`` in the message
writer's transactions on PostgreSQL; on SQLite the rows are made after the
commits (store/search_index.py) and the messages not built yet are
matched here, in Python."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.domain.elements import EntryKind, MessageState
from tidings.domain.groups import GroupState
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import NewChange, NewMessage, StoredMessage
from tidings.domain.search import (
    LIKE_ESCAPE,
    Cursor,
    SearchQuery,
    fts5_match,
    like_pattern,
    matches,
    searchable_text,
)
from tidings.store.engine import Database
from tidings.store.messages import message_of
from tidings.store.schema import (
    conversation_members,
    conversation_settings,
    conversations,
    message_texts,
    messages,
)
from tidings.store.search_index import TEXT_INSERT_ID_SQL, FtsIndex, index_if_below
from tidings.store.writer.rows import Collected, TransactionRows

# Run in the message writer's transaction as driver SQL (``?`` placeholders).
TEXT_INSERT_SQL = ("INSERT INTO message_texts (conversation_id, seq, sdkappid, sender,"
                   " created_at, body) VALUES (?, ?, ?, ?, ?, ?)")
TEXT_DELETE_SQL = "DELETE FROM message_texts WHERE conversation_id = ? AND seq = ?"
# SQLite's: a text's id is its message's rowid (migration 0030).
TEXT_DELETE_ID_SQL = "DELETE FROM message_texts WHERE id = ?"


class TextRows(TransactionRows):
    """The writer's rows for search: a message's text is indexed, replaced
    and removed with it. On SQLite the text rows of new messages and the
    FTS5 index follow the commits (``later``, store/search_index.py); a
    change to a message already built is made here."""

    def __init__(self, db: Database, index: FtsIndex | None = None) -> None:
        self._fts = (index or FtsIndex()) if db.dialect == "sqlite" else None
        self.later = self._fts
        # On SQLite a message's text row is the step's: only counted, per
        # batch (``stored``), not a call a message.
        self.per_message = self._fts is None
        self._insert = Collected(db.driver_sql(
            TEXT_INSERT_SQL if self._fts is None else TEXT_INSERT_ID_SQL))
        self._delete_sql = db.driver_sql(TEXT_DELETE_SQL)

    def stored(self, count: int) -> None:
        if self._fts is not None:
            # Their rows are the step's, from the committed messages.
            self._fts.written(count)

    def message(self, r: NewMessage, entry: StoredMessage, group: GroupState | None,
                now: int) -> None:
        # PostgreSQL only (``per_message``).
        if body := searchable_text(entry.elements):
            self._insert.params.append((entry.conversation_id, entry.seq, entry.key.sdkappid,
                                        entry.sender, entry.created_at, body))

    def change(self, cursor: DBAPICursor, r: NewChange, before: StoredMessage,
               entry: StoredMessage, now: int) -> None:
        # Found by its new text only (it keeps its time: results go by it);
        # a recalled message has none, and is found by nobody.
        after = entry.target
        assert after is not None
        rowid = None
        if self._fts is not None:
            rowid = self._fts.built_row(cursor, after.conversation_id, after.seq)
            if rowid is None:
                # The step will read the message as this change leaves it.
                return
            cursor.execute(TEXT_DELETE_ID_SQL, (rowid,))
        else:
            cursor.execute(self._delete_sql, (after.conversation_id, after.seq))
        if r.kind is EntryKind.EDIT and (body := searchable_text(after.elements)):
            row: tuple[Any, ...] = (after.conversation_id, after.seq, after.key.sdkappid,
                                    before.sender, before.created_at, body)
            if rowid is None:  # PostgreSQL
                cursor.execute(self._insert.sql, row)
            else:
                assert self._fts is not None
                cursor.execute(self._insert.sql, (*row, rowid))
                # Its id is at or below the watermark when the old row was indexed.
                index_if_below(cursor, rowid, rowid)
                self._fts.written(1)

    def flush(self, cursor: DBAPICursor) -> None:
        self._insert.flush(cursor)  # PostgreSQL's rows (SQLite collects none)

    def discard(self) -> None:
        self._insert.discard()

# SQLite's FTS5 index of message_texts.body (migration 0009).
_FTS = table("message_texts_fts", column("rowid"))
# Its watermark (migration 0021).
_INDEXED = table("message_texts_fts_indexed", column("indexed_to"))
# The messages whose text rows are made (migration 0024).
_BUILT = table("message_texts_fts_built", column("built_to"))
# How many FTS5 matches are counted before choosing another way (fts_pays).
FTS_PROBE = 5000


def _match(scope: SearchScope) -> ColumnElement[bool]:
    return literal_column("message_texts_fts").bool_op("MATCH")(
        fts5_match(scope.query.indexed))


@dataclass(frozen=True, slots=True)
class SearchScope:
    """Whose messages, narrowed how. ``viewer`` None: the whole app (its admin)."""

    sdkappid: int
    viewer: str | None
    query: SearchQuery
    conversation_id: int | None = None
    sender: str | None = None
    since: int | None = None  # time >= since (ms)
    until: int | None = None  # time < until (ms)
    cursor: Cursor | None = None


@dataclass(frozen=True, slots=True)
class Found:
    message: StoredMessage
    cursor: Cursor


class SearchStore:
    def __init__(self, db: Database, fts_probe: int = FTS_PROBE, index: bool = True) -> None:
        self._db = db
        self._fts_probe = fts_probe
        # ``search_index`` none: PostgreSQL's planner has no index to pick;
        # on SQLite ``fts_pays`` says no (see there).
        self._index = index

    @property
    def indexed(self) -> bool:
        """Whether searches may use the index (``search_index`` trigram)."""
        return self._index

    def statement(self, scope: SearchScope, limit: int, *, fts: bool = True) -> Select[Any]:
        """The query for one page of (conversation, seq, time), also what
        bench/search.py explains; the messages are read after, by key. On
        SQLite with ``fts`` the FTS5 index gives the candidates (the rows it
        holds: ``tail`` reads the others); without it, every word is a LIKE
        on the rows the other conditions reach (on PostgreSQL the planner
        picks between the trigram index and those)."""
        t = message_texts.c
        columns = (t.conversation_id, t.seq, t.created_at)
        if self.uses_fts(scope, fts):
            # FTS5 first: the trigram index gives the candidate rows, those
            # holding every trigram of the words, anywhere (it keeps no
            # positions: migration 0034); the LIKE of every word keeps
            # those that hold the words themselves.
            stmt = select(*columns).select_from(_FTS).join(message_texts, t.id == _FTS.c.rowid)
            return self._narrow(stmt, scope, [_match(scope)], scope.query.terms, limit)
        m = messages.c
        # A message's text: on SQLite by its rowid (migration 0030: the
        # text's id, and its only key there), on PostgreSQL by the key.
        by_key = (t.id == literal_column("messages.rowid") if self._db.dialect == "sqlite"
                  else and_(t.conversation_id == m.conversation_id, t.seq == m.seq))
        through_messages = messages.join(message_texts, by_key)
        if scope.viewer is None and self._db.dialect == "sqlite" and (
                scope.conversation_id is None):
            # The whole app newest first on SQLite: the texts' own
            # ix_message_texts_app_time (revision 0033: made by the search
            # step, not the ack's commit; messages have no index by app and
            # time there). A text has its message's app, sender and time (an
            # edit keeps it); the messages without one yet are ``pending``'s.
            return self._narrow(select(*columns).select_from(message_texts), scope, [],
                                scope.query.terms, limit)
        if scope.viewer is None:
            # The whole app newest first on PostgreSQL: messages'
            # ix_messages_app_time, each text by its key (its texts are
            # written in the batch: an index of them by app and time would
            # cost it what that one does; revision 0023). On SQLite one
            # conversation's: its messages by their key, each text by its id.
            return self._narrow(
                select(m.conversation_id, m.seq, m.created_at).select_from(through_messages),
                scope, [], scope.query.terms, limit, by=messages)
        if self._db.dialect == "sqlite":
            # The viewer's conversations' messages by their primary key (its
            # index holds the rowid: no message row read), each text by its
            # id: texts have no index by conversation there.
            return self._narrow(select(*columns).select_from(through_messages), scope, [],
                                scope.query.terms, limit, texts=messages, members_first=True)
        return self._narrow(select(*columns).select_from(message_texts), scope, [],
                            scope.query.terms, limit)

    def uses_fts(self, scope: SearchScope, fts: bool = True) -> bool:
        return fts and self._db.dialect == "sqlite" and bool(scope.query.indexed)

    def tail(self, scope: SearchScope, limit: int) -> Select[Any]:
        """SQLite: the page among the rows the FTS5 index does not hold yet
        (above its watermark, store/search_index.py), every word a LIKE:
        a few rows, reached by their ids."""
        t = message_texts.c
        above = t.id > select(_INDEXED.c.indexed_to).scalar_subquery()
        return self._narrow(select(t.conversation_id, t.seq, t.created_at), scope, [above],
                            scope.query.terms, limit, texts_first=True)

    def pending(self, scope: SearchScope) -> Select[Any]:
        """SQLite: the scope's messages whose text rows are not made yet
        (past ``built_to``, store/search_index.py), with their elements for
        ``search`` to match in Python: a few rows, reached by their rowids."""
        m = messages.c
        past = literal_column("messages.rowid") > select(_BUILT.c.built_to).scalar_subquery()
        return self._narrow(
            select(m.conversation_id, m.seq, m.created_at, m.elements).select_from(messages),
            scope, [past, m.kind == EntryKind.MESSAGE, m.state != MessageState.RECALLED], (),
            None, by=messages, texts=messages, texts_first=True)

    @staticmethod
    def _narrow(stmt: Select[Any], scope: SearchScope, cond: list[ColumnElement[bool]],
                like_terms: Iterable[str], limit: int | None, by: Table = message_texts,
                texts_first: bool = False, texts: Table = message_texts,
                members_first: bool = False) -> Select[Any]:
        """``stmt`` (rows of ``texts``) narrowed to the scope's, one page;
        app, conversation, sender and time read from ``by`` (message_texts,
        or messages joined on the key: the same values, another index).
        ``texts_first``: the texts' own condition picks the rows (the tail's
        few ids), the viewer's memberships are looked up for each;
        ``members_first``: the viewer's memberships pick the conversations
        (not ``by``'s own indexes: messages' by app and time)."""
        t, k = texts.c, by.c
        bodies = message_texts.c  # the words are matched on the text (texts: its key)
        # "+ 0" keeps SQLite from starting at the viewer's conversations and
        # reading every text of each (it did so with bound parameters), or
        # from messages' other indexes (the app's whole ix_messages_app_time
        # for the messages past the pointer).
        text_conversation = t.conversation_id + 0 if texts_first else t.conversation_id
        app: ColumnElement[Any] = k.sdkappid
        conversation: ColumnElement[Any] = k.conversation_id
        sender: ColumnElement[Any] = k.sender
        at: ColumnElement[Any] = k.created_at
        if texts_first or members_first:
            app, conversation, sender, at = app + 0, conversation + 0, sender + "", at + 0
        cond += [app == scope.sdkappid]
        cond += [bodies.body.like(like_pattern(term), escape=LIKE_ESCAPE) for term in like_terms]
        if scope.viewer is not None:
            # What the viewer's history shows: their conversations, after
            # their join point (groups) and after what they cleared.
            cm, s = conversation_members.c, conversation_settings.c
            stmt = (stmt.join(conversation_members,
                              and_(cm.conversation_id == text_conversation,
                                   cm.user_id == scope.viewer))
                    .outerjoin(conversation_settings,
                               and_(s.conversation_id == t.conversation_id,
                                    s.user_id == scope.viewer)))
            # As differences, so that SQLite does not carry them over to
            # messages.seq as a range to scan (it must look the row up by seq).
            cond += [cm.sdkappid == scope.sdkappid, t.seq - cm.visible_after > 0,
                     t.seq - func.coalesce(s.cleared_seq, 0) > 0]
        if scope.conversation_id is not None:
            cond.append(conversation == scope.conversation_id)
        if scope.sender is not None:
            cond.append(sender == scope.sender)
        if scope.since is not None:
            cond.append(at >= scope.since)
        if scope.until is not None:
            cond.append(at < scope.until)
        if scope.cursor is not None:
            c = scope.cursor
            cond.append(tuple_(at, conversation, k.seq) < tuple_(c.time, c.conversation_id, c.seq))
        return (stmt.where(and_(*cond))
                .order_by(k.created_at.desc(), k.conversation_id.desc(), k.seq.desc())
                .limit(limit))

    async def search(self, scope: SearchScope, limit: int) -> list[Found]:
        """Up to ``limit`` matching messages, newest first."""
        async with self._db.reader.connect() as conn:
            fts = await self.fts_pays(conn, scope)
            page = (await conn.execute(self.statement(scope, limit, fts=fts))).all()
            more: list[Any] = []
            if self.uses_fts(scope, fts):
                # The newest rows may not be in the index yet: their page
                # merged in (the same read, so no row is in both or neither).
                more += (await conn.execute(self.tail(scope, limit))).all()
            if self._db.dialect == "sqlite":
                # Nor the newest messages in message_texts: matched here.
                more += [r for r in (await conn.execute(self.pending(scope)))
                         if matches(searchable_text(r.elements), scope.query)]
            if more:
                page = sorted(page + more, key=lambda r: (r.created_at, r.conversation_id,
                                                          r.seq), reverse=True)[:limit]
            if not page:
                return []
            # One primary-key lookup each (a join in the page's query let
            # PostgreSQL read whole conversations to match seqs).
            m, c = messages.c, conversations.c
            rows = (await conn.execute(
                select(messages, c.kind.label("conv_kind"), c.a.label("conv_a"),
                       c.b.label("conv_b"))
                .join(conversations, c.id == m.conversation_id)
                .where(or_(*(and_(m.conversation_id == r.conversation_id, m.seq == r.seq)
                             for r in page))))).all()
        by_key = {(r.conversation_id, r.seq): r for r in rows}
        found = []
        for p in page:
            r = by_key.get((p.conversation_id, p.seq))
            if r is None or r.state == MessageState.RECALLED:
                # Gone or recalled between the two reads (PostgreSQL reads
                # each statement at its own time).
                continue
            key = ConversationKey(scope.sdkappid, ConversationKind(r.conv_kind), r.conv_a,
                                  r.conv_b)
            found.append(Found(message_of(r, key),
                               Cursor(p.created_at, p.conversation_id, p.seq)))
        return found

    async def fts_pays(self, conn: AsyncConnection, scope: SearchScope) -> bool:
        """SQLite: whether to start from the FTS5 index. SQLite's planner
        always does, and then reads every match in the database (of every
        app) to sort them: for a common word, tens of thousands of rows.
        A probe counts the matches up to ``fts_probe``; past that the other
        way is cheaper: a user's own conversations when they hold fewer
        entries than that, or, for the whole app, its messages newest first
        with their texts (a common word fills a page early). Never with
        ``search_index`` none: the steps no longer feed FTS5, so what it
        holds may be stale past its watermark, and the LIKE of the rows
        above it would be the whole history; every word is then a LIKE on
        the rows the scope reaches, as for a common word."""
        if not self._index:
            return False
        if self._db.dialect != "sqlite" or not scope.query.indexed:
            return True
        probe = select(func.count()).select_from(
            select(_FTS.c.rowid).where(_match(scope)).limit(self._fts_probe).subquery())
        matches = (await conn.execute(probe)).scalar_one()
        if matches < self._fts_probe:
            return True
        if scope.viewer is None:
            return False
        c, cm = conversations.c, conversation_members.c
        held = select(func.coalesce(func.sum(c.last_seq - cm.visible_after), 0)).select_from(
            conversation_members).join(conversations, c.id == cm.conversation_id).where(
            cm.sdkappid == scope.sdkappid, cm.user_id == scope.viewer)
        if scope.conversation_id is not None:
            held = held.where(c.id == scope.conversation_id)
        return int((await conn.execute(held)).scalar_one()) >= self._fts_probe
