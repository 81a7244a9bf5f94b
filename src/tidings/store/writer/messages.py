"""Message rows: which sends of a batch were stored before (a resend gets
the first ack, nothing is stored twice), the next seq and one ``messages``
row for each new message, and the sender's read cursor moved past it."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain import group_rights
from tidings.domain.elements import ImportMode
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.groups import GroupType, Member
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import Committed, NewMessage, StoredMessage
from tidings.store.engine import Database
from tidings.store.writer.conversations import Conv, Conversations

# A send's identity: the first message stored with it is the answer to all.
SendKey = tuple[int, str, str]  # (sdkappid, sender, client_msg_id)


# A message row's app and time (``MessageRows.store``'s order).
_APP, _TIME = itemgetter(2), itemgetter(7)
MINUTE_MS = 60_000

# Read for every message: as a plain name, not off its Enum class (on Python
# 3.11 that goes through ``EnumType.__getattr__``'s slot, ~60 ns a read:
# issue 19, perf-loop7).
_GROUP = ConversationKind.GROUP
_HISTORY = ImportMode.HISTORY
# A batch's messages added to their app's minute (pg_batch.py joins it to
# the batch's one statement: each (app, minute) once, no parameter in the
# DO UPDATE).
# Each process adds to its own rows (``node``, as app_minutes'): two
# processes writing one app in one minute never wait on one row's lock.
COUNT_SQL = ("INSERT INTO app_message_counts (sdkappid, minute, node, messages)"
             " VALUES (?, ?, ?, ?) ON CONFLICT (sdkappid, minute, node) DO UPDATE"
             " SET messages = app_message_counts.messages + excluded.messages")


def send_key(r: NewMessage) -> SendKey:
    return (r.key.sdkappid, r.sender, r.client_msg_id)


def new_node() -> str:
    """A process's name for the rows each process keeps its own of
    (``app_message_counts``, as StatsService's ``app_minutes``): one per
    start, so a cluster's processes never wait on one another's row."""
    return uuid.uuid4().hex[:16]


class MessageRows:
    def __init__(self, db: Database, conversations: Conversations, node: str) -> None:
        self._db = db
        self._node = node
        # On SQLite the counts are the search step's, off the ack's commit
        # (store/search_index.py count_messages, node '': one process a
        # file): a batch collects none.
        self._counting = db.dialect != "sqlite"
        self._conversations = conversations
        self._touched = conversations.touched
        self._dedup_cache: dict[int, str] = {}
        self._insert_sql = db.driver_sql(
            "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
            " elements, cloud_custom_data, created_at, state, msg_no, imported, mentions,"
            " push_options) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)")
        # A message's push_options column: on SQLite its push job
        # (store/push.py PushJobRows.options); None: NULL, no job here.
        self.push_of: Callable[[NewMessage], str | None] | None = None
        self._read_sql = db.driver_sql(
            "UPDATE conversation_members SET read_seq = ?, read_msg_no = ?"
            " WHERE conversation_id = ? AND user_id = ? AND read_seq < ?")
        # The app's messages per minute (schema.py app_message_counts), for
        # the figures without an index of messages by app and time: one upsert
        # per app and minute per batch (``COUNT_SQL``; on PostgreSQL in the
        # batch's one statement).
        self._count_sql = db.driver_sql(COUNT_SQL)
        # The batch's rows, the read cursors its senders reach, and its
        # messages per (app, minute).
        self._rows: list[tuple[Any, ...]] = []
        self._read: dict[tuple[int, str], tuple[int, int]] = {}
        self._counts: dict[tuple[int, int], int] = {}
        # Whether a row collected since the last flush has a time of its own.
        self._timed = False

    def stored_before(self, cursor: DBAPICursor, requests: list[NewMessage]
                      ) -> dict[SendKey, StoredMessage]:
        """The messages already stored under the sends' client ids."""
        params: list[object] = []
        for r in requests:
            params += (r.key.sdkappid, r.sender, r.client_msg_id)
        found: dict[SendKey, StoredMessage] = {}
        cursor.execute(self._dedup_sql(len(requests)), tuple(params))
        for (conversation_id, seq, sdkappid, sender, client_msg_id, elements, custom, created_at,
             state, kind, a, b) in cursor.fetchall():
            key = ConversationKey(sdkappid, ConversationKind(kind), a, b)
            found[(sdkappid, sender, client_msg_id)] = StoredMessage(
                conversation_id, key, seq, sender, client_msg_id, elements, custom, created_at,
                state)
        return found

    def _dedup_sql(self, n: int) -> str:
        sql = self._dedup_cache.get(n)
        if sql is None:
            # A join against the wanted ids: one index probe each. (SQLite
            # scans the whole table for a row-value IN, and an OR chain this
            # long exceeds its expression depth.)
            values = ", ".join(["(CAST(? AS BIGINT), ?, ?)"] * n)
            sql = self._db.driver_sql(
                "SELECT m.conversation_id, m.seq, m.sdkappid, m.sender, m.client_msg_id,"
                " m.elements, m.cloud_custom_data, m.created_at, m.state, c.kind, c.a, c.b"
                f" FROM (VALUES {values}) AS w"
                " JOIN messages m ON m.sdkappid = w.column1 AND m.sender = w.column2"
                " AND m.client_msg_id = w.column3"
                " JOIN conversations c ON c.id = m.conversation_id")
            if len(self._dedup_cache) < 64:
                self._dedup_cache[n] = sql
        return sql

    def store(self, r: NewMessage, conv: Conv | None, now: int) -> Committed | TidingsError:
        """Judge a new message against its group as it stands, give it the
        conversation's next seq and collect its row."""
        recipients: Mapping[str, Member] | None = None
        if r.key.kind is _GROUP:
            if conv is None or conv.group is None:
                return TidingsError(ErrorCode.NOT_FOUND, f"no group {r.key.a!r}")
            try:
                if not r.privileged or conv.group.type is GroupType.LIVE:
                    group_rights.check_send(conv.group, r.sender, now)
            except TidingsError as refused:
                return refused
            recipients = conv.group.members
        # A message makes its one-to-one conversation (Conversations.load).
        assert conv is not None
        conv.last_seq = seq = conv.last_seq + 1
        self._touched[conv.id] = conv  # Conversations.touch, without the call
        if r.time is None:
            at = now
        else:
            at = r.time
            self._timed = True  # not the batch's time: flush counts row by row
        if r.imported is not _HISTORY:
            conv.last_msg_no += 1
            # Sending in a conversation means having read it up to there.
            self._read[(conv.id, r.sender)] = (seq, conv.last_msg_no)
        if r.time is None or at >= conv.last_time:
            # An import older than the conversation's last message is
            # history: it is not the newest message, whatever its seq.
            conv.last_time = at
            conv.last_message_seq = seq
        mentions = orjson.dumps(r.mentions).decode() if r.mentions else None
        self._rows.append((conv.id, seq, r.key.sdkappid, r.sender, r.client_msg_id,
                           r.elements, r.cloud_custom_data, at, conv.last_msg_no, r.imported,
                           mentions, None if self.push_of is None else self.push_of(r)))
        # Every field by position, in the records' order (domain/records.py):
        # a keyword costs the call its fast path, ~0.3 us a record of the
        # ~1.5 us of this method (timeit; tests/test_writer_rows.py reads
        # each field back).
        msg = StoredMessage(conv.id, r.key, seq, r.sender, r.client_msg_id, r.elements,
                            r.cloud_custom_data, at, 0, 0, 0, r.imported, None, 0, "", None,
                            mentions or "")
        return Committed(r, msg, False, False, recipients)

    def flush(self, cursor: DBAPICursor) -> int:
        """Insert the rows collected so far; how many."""
        if not self._rows:
            return 0
        rows, self._rows = self._rows, []
        cursor.executemany(self._insert_sql, rows)
        if not self._counting:
            return len(rows)
        # Their apps' minutes: a batch's messages mostly share one app and
        # the commit's time (imports have their own: ``_timed``), so mostly
        # one key, found without a Python step a row (timeit on the loaded
        # machine, 16 and 200 a batch: a Counter of (app, time) pairs 1.0-1.3
        # and 0.5-0.6 us a message, this 0.2-0.3 and 0.06-0.1).
        counts = self._counts
        apps = set(map(_APP, rows))
        if len(apps) == 1 and not self._timed:
            app = apps.pop()
            at = rows[0][7]
            key = (app, at - at % MINUTE_MS)
            counts[key] = counts.get(key, 0) + len(rows)
        else:
            self._timed = False
            pairs = zip(map(_APP, rows), map(_TIME, rows), strict=True)
            for (app, at), n in Counter(pairs).items():
                key = (app, at - at % MINUTE_MS)
                counts[key] = counts.get(key, 0) + n
        return len(rows)

    def write_last(self, cursor: DBAPICursor) -> None:
        """The batch's last writes: its senders' read cursors, then its apps'
        message counts (on PostgreSQL ``cursor`` is the one-statement Tail)."""
        self._write_reads(cursor)
        self._write_counts(cursor)

    def _write_reads(self, cursor: DBAPICursor) -> None:
        """Move the senders' read cursors."""
        if self._read:
            read, self._read = self._read, {}
            cursor.executemany(self._read_sql, [(seq, no, cid, uid, seq)
                                                for (cid, uid), (seq, no) in read.items()])

    def _write_counts(self, cursor: DBAPICursor) -> None:
        """Add the batch's messages to their apps' minutes, in this process's
        rows (``node``: on PostgreSQL a row is locked from its upsert to the
        commit, and only this process's writer, one batch at a time, takes
        it; at the end of the batch all the same)."""
        if self._counts:
            counts, self._counts = self._counts, {}
            node = self._node
            cursor.executemany(self._count_sql, [(app, minute, node, n) for (app, minute), n
                                                 in sorted(counts.items())])

    def discard(self) -> None:
        self._rows = []
        self._read = {}
        self._counts = {}
        self._timed = False


def repeated(r: NewMessage, first: StoredMessage) -> Committed | TidingsError:
    """The answer to a resend: the first message's ack, when it is the same
    conversation's."""
    if first.key != r.key:
        return TidingsError(ErrorCode.CLIENT_MSG_ID_REUSED,
                            "this client message id was already used in another conversation")
    return Committed(r, first, duplicate=True)
