"""The writer's memory of conversations: each one's last ``seq`` and
counters once read, and a group's state with its members, so a batch costs
a handful of statements whatever its size. Kept exact by the writer alone
(it is the only code that assigns seqs); forgotten when a batch fails.

On PostgreSQL several processes may write (docs/cluster.md): there each
batch locks its conversations' rows (``lock``) and takes their counters
from the database, so the database decides each seq whichever process
receives the send; memory saves only the reads of groups that did not
change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain import group_rights
from tidings.domain.clock import now_ms
from tidings.domain.groups import GroupState
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import NewMessage, Request
from tidings.store.engine import Database
from tidings.store.groups import load_state

# Conversations whose last seq we remember; past this the memory is dropped
# and reloaded from the database on demand.
CACHE_LIMIT = 200_000

# Read for every message: as a plain name, not off its Enum class (on Python
# 3.11 that goes through ``EnumType.__getattr__``'s slot, ~60 ns a read:
# issue 19, perf-loop7).
_GROUP = ConversationKind.GROUP


class Conv:
    """What the writer remembers of a conversation between batches."""

    __slots__ = ("group", "id", "last_message_seq", "last_msg_no", "last_seq", "last_time")

    def __init__(self, conv_id: int, last_seq: int, last_message_seq: int, last_msg_no: int,
                 last_time: int) -> None:
        self.id = conv_id
        self.last_seq = last_seq
        self.last_message_seq = last_message_seq
        self.last_msg_no = last_msg_no
        self.last_time = last_time
        # A group conversation: the group and its members, loaded with the
        # conversation and kept exact by the group operations.
        self.group: GroupState | None = None


class Conversations:
    """The conversations in memory, by key, and those a batch advanced
    (their counters are written back once, at its end)."""

    def __init__(self, db: Database) -> None:
        self._by_key: dict[ConversationKey, Conv] = {}
        # The batch's advanced conversations, by id: one dict object for the
        # writer's life (MessageRows holds this very object and adds to it
        # per message, without a call; Final: a new dict would be one that
        # nobody writes back).
        self.touched: Final[dict[int, Conv]] = {}
        self._advance_sql = db.driver_sql(
            "UPDATE conversations SET last_seq = ?, last_time = ?, last_message_seq = ?,"
            " last_msg_no = ? WHERE id = ?")
        # Only PostgreSQL has other writers: one SQLite file has one serving
        # process (store/node_lock.py).
        self.shared = db.dialect == "postgresql"
        self._db = db
        self._lock_cache: dict[int, str] = {}
        self._load_cache: dict[int, str] = {}
        self._create_sql = db.driver_sql(
            "INSERT INTO conversations (sdkappid, kind, a, b, last_seq, last_time, created_at)"
            " VALUES (?, ?, ?, ?, 0, 0, ?) RETURNING id")
        self._member_sql = db.driver_sql(
            "INSERT INTO conversation_members (conversation_id, user_id, sdkappid, read_seq,"
            " joined_at) VALUES (?, ?, ?, 0, ?)")

    def get(self, key: ConversationKey) -> Conv | None:
        return self._by_key.get(key)

    def known(self, requests: Sequence[Request]) -> list[Conv] | None:
        """The conversations of a batch that may take the short way, in the
        requests' order; None when it needs the long way (not only sends, a
        conversation not in memory, a group without its state)."""
        by_key = self._by_key
        convs = []
        for r in requests:
            if not isinstance(r, NewMessage):
                return None
            conv = by_key.get(r.key)
            if conv is None or (conv.group is None and r.key.kind is _GROUP):
                return None
            convs.append(conv)
        return convs

    def __getitem__(self, key: ConversationKey) -> Conv:
        return self._by_key[key]

    def remember(self, key: ConversationKey, conv: Conv) -> Conv:
        self._by_key[key] = conv
        return conv

    def forget(self, key: ConversationKey) -> None:
        """Drop a conversation (gone, or memory that may be ahead of the
        database): it is read again when next needed."""
        conv = self._by_key.pop(key, None)
        if conv is not None:
            self.touched.pop(conv.id, None)

    def touch(self, conv: Conv) -> None:
        """``conv``'s counters moved in this batch."""
        self.touched[conv.id] = conv

    def write_back(self, cursor: DBAPICursor) -> None:
        """Write the counters of the conversations the batch advanced."""
        touched = self.touched
        if touched:
            params = [(c.last_seq, c.last_time, c.last_message_seq, c.last_msg_no, c.id)
                      for c in touched.values()]
            touched.clear()
            cursor.executemany(self._advance_sql, params)

    def discard(self) -> None:
        """The batch failed (its conversations are forgotten by the writer)."""
        self.touched.clear()

    def load(self, conn: Connection, create: set[ConversationKey],
             lookup: set[ConversationKey], now: int) -> None:
        """Bring the conversations of a batch into memory: those in ``create``
        are made when they do not exist, those only in ``lookup`` are not."""
        keys = create | lookup if lookup else create
        memory = self._by_key
        missing = [k for k in keys if k not in memory]
        if not missing:
            return
        if len(memory) + len(missing) > CACHE_LIMIT:
            memory.clear()
            missing = list(keys)  # what this batch needs must stay
        # On the driver's cursor, as the batch's other statements: through
        # SQLAlchemy a tuple IN was built, its cache key made and its
        # expanding parameters rendered each time, ~1 ms of the batch thread
        # for the first message of two users (bench/writer_alone.py --fresh).
        cursor = conn.connection.cursor()
        try:
            for i in range(0, len(missing), 400):
                chunk = missing[i:i + 400]
                params: list[object] = []
                for k in chunk:
                    params += (k.sdkappid, k.kind.value, k.a, k.b)
                cursor.execute(self._load_sql(len(chunk)), tuple(params))
                for (conv_id, sdkappid, kind, a, b, last_seq, last_message_seq, last_msg_no,
                     last_time) in cursor.fetchall():
                    key = ConversationKey(sdkappid, ConversationKind(kind), a, b)
                    memory[key] = Conv(conv_id, last_seq, last_message_seq, last_msg_no,
                                       last_time)
            for key in missing:
                if key not in memory and key in create:
                    memory[key] = Conv(self._create(cursor, key, now), 0, 0, 0, 0)
                elif key.kind is ConversationKind.GROUP and (conv := memory.get(key)):
                    conv.group = load_state(conn, conv.id)
        finally:
            cursor.close()

    def _load_sql(self, n: int) -> str:
        sql = self._load_cache.get(n)
        if sql is None:
            # A join against the wanted keys: one probe of the unique key
            # each (SQLite scans the table for a row-value IN).
            values = ", ".join(["(CAST(? AS BIGINT), ?, ?, ?)"] * n)
            sql = self._db.driver_sql(
                "SELECT c.id, c.sdkappid, c.kind, c.a, c.b, c.last_seq, c.last_message_seq,"
                f" c.last_msg_no, c.last_time FROM (VALUES {values}) AS w"
                " JOIN conversations c ON c.sdkappid = w.column1 AND c.kind = w.column2"
                " AND c.a = w.column3 AND c.b = w.column4")
            if len(self._load_cache) < 64:
                self._load_cache[n] = sql
        return sql

    def create(self, conn: Connection, key: ConversationKey, now: int) -> int:
        """Insert a conversation (and a one-to-one's two members); its id."""
        cursor = conn.connection.cursor()
        try:
            return self._create(cursor, key, now)
        finally:
            cursor.close()

    def _create(self, cursor: DBAPICursor, key: ConversationKey, now: int) -> int:
        cursor.execute(self._create_sql, (key.sdkappid, key.kind.value, key.a, key.b, now))
        row = cursor.fetchone()
        assert row is not None  # RETURNING of the row inserted
        new_id = int(row[0])
        if key.kind is ConversationKind.C2C:
            cursor.executemany(self._member_sql, [(new_id, user, key.sdkappid, now)
                                                  for user in key.members()])
        return new_id

    def lock(self, conn: Connection, cursor: DBAPICursor, keys: Iterable[ConversationKey],
             regroup: set[ConversationKey]) -> set[ConversationKey]:
        """Lock the rows of the batch's conversations (in id order, so two
        processes never wait on each other in a circle) and take their
        counters as committed: another process may have written since. A
        group whose seq moved, or in ``regroup`` (it has a group operation
        in the batch), is read again; one that is gone is forgotten, and
        returned: another process disbanded it (and may have made a group
        of that id again, which ``load`` then finds)."""
        convs = {}
        for key in keys:
            conv = self._by_key.get(key)
            if conv is not None:
                convs[conv.id] = (key, conv)
        if not convs:
            return set()
        ids = sorted(convs)
        cursor.execute(self._lock_sql(len(ids)), tuple(ids))
        seen = set()
        for conv_id, last_seq, last_message_seq, last_msg_no, last_time in cursor.fetchall():
            seen.add(conv_id)
            key, conv = convs[conv_id]
            moved = conv.last_seq != last_seq
            conv.last_seq, conv.last_message_seq = last_seq, last_message_seq
            conv.last_msg_no, conv.last_time = last_msg_no, last_time
            if key.kind is ConversationKind.GROUP and (moved or key in regroup):
                conv.group = load_state(conn, conv_id)
        gone = {convs[conv_id][0] for conv_id in convs.keys() - seen}
        for key in gone:
            self.forget(key)
        return gone

    def _lock_sql(self, n: int) -> str:
        sql = self._lock_cache.get(n)
        if sql is None:
            marks = ", ".join(["?"] * n)
            sql = self._db.driver_sql(
                "SELECT id, last_seq, last_message_seq, last_msg_no, last_time"
                f" FROM conversations WHERE id IN ({marks}) ORDER BY id FOR UPDATE")
            if len(self._lock_cache) < 64:
                self._lock_cache[n] = sql
        return sql

    # What the services ask of the group as last committed (no database).

    def precheck_send(self, key: ConversationKey, sender: str) -> None:
        """Refuse a group message early (before any callback) when the group
        as last committed says so; the commit judges again, exactly. Not
        when other processes write too: memory may be behind (a member
        added elsewhere), and only the commit reads the group afresh."""
        conv = None if self.shared else self._by_key.get(key)
        if conv is not None and conv.group is not None:
            group_rights.check_send(conv.group, sender, now_ms())

    def group_members(self, key: ConversationKey) -> Iterable[str] | None:
        """The members of a group in memory (None when it is not, or when
        other processes write too: the store's member rows say the same)."""
        conv = None if self.shared else self._by_key.get(key)
        return None if conv is None or conv.group is None else conv.group.members.keys()

    def group_type(self, key: ConversationKey) -> str:
        """The type of a group in memory ("" when it is not)."""
        conv = self._by_key.get(key)
        return "" if conv is None or conv.group is None else conv.group.type.value

