"""Group commit: every message that arrives while one transaction commits goes
into the next one, and nobody is acked before the commit that holds them.

The writer is the only code that assigns ``seq``. It keeps each conversation's
last ``seq`` in memory once read, so a batch costs a handful of statements
whatever its size. One writer per database: in a cluster the conversation
would be routed to the process that owns it (a later issue).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, tuple_
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain.callbacks import Event, message_data
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.store.callbacks import OUTBOX_INSERT_SQL, outbox_params
from tidings.store.clock import now_ms
from tidings.store.engine import Database
from tidings.store.messages import StoredMessage
from tidings.store.schema import conversation_members, conversations

log = logging.getLogger(__name__)

# Conversations whose last seq we remember; past this the memory is dropped
# and reloaded from the database on demand.
CACHE_LIMIT = 200_000


@dataclass(slots=True)
class NewMessage:
    key: ConversationKey
    sender: str
    client_msg_id: str
    elements: str
    cloud_custom_data: str
    # Passed back untouched to the commit hook: who asked, to route the ack.
    origin: Any = None
    # (platform, client ip) when the app wants an after-send callback: its
    # outbox row is written in the message's own transaction.
    after_send: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Committed:
    request: NewMessage
    message: StoredMessage
    # True when the client id was stored before: the first ack is repeated.
    duplicate: bool
    # The app's before-send callback dropped it: acked, but never stored (seq 0).
    dropped: bool = False


CommitHook = Callable[[list[Committed]], None]


class WriterStopped(TidingsError):
    def __init__(self) -> None:
        super().__init__(ErrorCode.SERVICE_UNAVAILABLE, "the server is shutting down")


class MessageWriter:
    def __init__(self, db: Database, *, max_batch: int, on_commit: CommitHook) -> None:
        self._db = db
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: list[tuple[NewMessage, asyncio.Future[Committed]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # conversation key -> (conversation id, last seq)
        self._conversations: dict[ConversationKey, tuple[int, int]] = {}
        self._dedup_cache: dict[int, str] = {}
        self._insert_sql = db.driver_sql(
            "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
            " elements, cloud_custom_data, created_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)")
        self._advance_sql = db.driver_sql(
            "UPDATE conversations SET last_seq = ?, last_time = ? WHERE id = ?")
        self._outbox_sql = db.driver_sql(OUTBOX_INSERT_SQL)
        self._read_sql = db.driver_sql(
            "UPDATE conversation_members SET read_seq = ?"
            " WHERE conversation_id = ? AND user_id = ? AND read_seq < ?")
        self.batches = 0
        self.committed = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    def submit(self, message: NewMessage) -> asyncio.Future[Committed]:
        if self._stopping:
            raise WriterStopped()
        future: asyncio.Future[Committed] = asyncio.get_running_loop().create_future()
        self._queue.append((message, future))
        self._wakeup.set()
        return future

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                done = await self._commit(batch)
            except Exception as exc:
                self._fail(batch, exc)
                continue
            self.batches += 1
            self.committed += len(done)
            try:
                self._on_commit([d for d in done if isinstance(d, Committed)])
            except Exception:
                log.exception("commit hook failed; the messages are stored")
            for (_, future), result in zip(batch, done, strict=True):
                if future.done():
                    continue
                if isinstance(result, TidingsError):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _fail(self, batch: list[tuple[NewMessage, asyncio.Future[Committed]]],
              exc: Exception) -> None:
        # Our memory of the seqs may now be ahead of the database.
        for message, _ in batch:
            self._conversations.pop(message.key, None)
        if isinstance(exc, TidingsError):
            error = exc
        else:
            log.exception("message batch failed to commit", exc_info=exc)
            error = TidingsError(ErrorCode.SERVICE_UNAVAILABLE,
                                 "the message could not be stored; retry with the same client id")
        for _, future in batch:
            if not future.done():
                future.set_exception(error)

    async def _commit(self, batch: list[tuple[NewMessage, asyncio.Future[Committed]]]
                      ) -> list[Committed | TidingsError]:
        return await self._db.run_write(self._commit_in, [m for m, _ in batch], now_ms())

    def _commit_in(self, conn: Connection, requests: list[NewMessage], now: int
                   ) -> list[Committed | TidingsError]:
        """The whole batch, inside one transaction (run by ``Database.run_write``).

        The per-batch statements go straight to the driver's cursor: through
        SQLAlchemy's execution context each cost ~60 us, five times a batch,
        which is most of a small batch's CPU (bench/chat_load.py --rate 300)."""
        cursor = conn.connection.cursor()
        try:
            return self._write_batch(conn, cursor, requests, now)
        finally:
            cursor.close()

    def _write_batch(self, conn: Connection, cursor: DBAPICursor, requests: list[NewMessage],
                     now: int) -> list[Committed | TidingsError]:
        earlier = self._stored_before(cursor, requests)
        fresh = [r for r in requests
                 if (r.key.sdkappid, r.sender, r.client_msg_id) not in earlier]
        self._load_conversations(conn, {r.key for r in fresh}, now)
        rows: list[tuple[Any, ...]] = []
        stored: dict[int, StoredMessage] = {}
        for r in fresh:
            conversation_id, last_seq = self._conversations[r.key]
            seq = last_seq + 1
            self._conversations[r.key] = (conversation_id, seq)
            msg = StoredMessage(conversation_id, r.key, seq, r.sender, r.client_msg_id,
                                r.elements, r.cloud_custom_data, now, 0)
            stored[id(r)] = msg
            rows.append((conversation_id, seq, r.key.sdkappid, r.sender, r.client_msg_id,
                         r.elements, r.cloud_custom_data, now))
        if rows:
            cursor.executemany(self._insert_sql, rows)
            self._advance(cursor, list(stored.values()), now)
            events = [self._after_send(r, stored[id(r)], now) for r in fresh
                      if r.after_send is not None]
            if events:
                cursor.executemany(self._outbox_sql, events)
        result: list[Committed | TidingsError] = []
        for r in requests:
            if id(r) in stored:
                result.append(Committed(r, stored[id(r)], duplicate=False))
                continue
            first = earlier[(r.key.sdkappid, r.sender, r.client_msg_id)]
            if first.key != r.key:
                result.append(TidingsError(
                    ErrorCode.CLIENT_MSG_ID_REUSED,
                    "this client message id was already used in another conversation"))
            else:
                result.append(Committed(r, first, duplicate=True))
        return result

    @staticmethod
    def _after_send(r: NewMessage, msg: StoredMessage, now: int) -> tuple[Any, ...]:
        assert r.after_send is not None
        peer = msg.key.b if msg.sender == msg.key.a else msg.key.a
        data = message_data(msg.sender, peer, msg.client_msg_id, msg.elements,
                            msg.cloud_custom_data, *r.after_send, msg_id=msg.msg_id,
                            seq=msg.seq, time=msg.created_at)
        return outbox_params(msg.key.sdkappid, Event.AFTER_SEND, data.decode(), now)

    def _stored_before(self, cursor: DBAPICursor, requests: list[NewMessage]
                       ) -> dict[tuple[int, str, str], StoredMessage]:
        params: list[object] = []
        for r in requests:
            params += (r.key.sdkappid, r.sender, r.client_msg_id)
        found: dict[tuple[int, str, str], StoredMessage] = {}
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

    def _load_conversations(self, conn: Connection, keys: set[ConversationKey],
                                  now: int) -> None:
        missing = [k for k in keys if k not in self._conversations]
        if not missing:
            return
        if len(self._conversations) + len(missing) > CACHE_LIMIT:
            self._conversations.clear()
        c = conversations.c
        stmt = select(c.id, c.sdkappid, c.kind, c.a, c.b, c.last_seq).where(
            tuple_(c.sdkappid, c.kind, c.a, c.b).in_(
                [(k.sdkappid, k.kind.value, k.a, k.b) for k in missing]))
        for row in conn.execute(stmt).all():
            key = ConversationKey(row.sdkappid, ConversationKind(row.kind), row.a, row.b)
            self._conversations[key] = (row.id, row.last_seq)
        for key in missing:
            if key not in self._conversations:
                self._conversations[key] = (self._create(conn, key, now), 0)

    def _create(self, conn: Connection, key: ConversationKey, now: int) -> int:
        new_id = (conn.execute(
            insert(conversations).values(sdkappid=key.sdkappid, kind=key.kind.value, a=key.a,
                                         b=key.b, last_seq=0, last_time=now, created_at=now)
            .returning(conversations.c.id)
        )).scalar_one()
        conn.execute(insert(conversation_members), [
            {"conversation_id": new_id, "user_id": user, "sdkappid": key.sdkappid,
             "read_seq": 0, "joined_at": now}
            for user in key.members()
        ])
        return int(new_id)

    def _advance(self, cursor: DBAPICursor, stored: list[StoredMessage],
                       now: int) -> None:
        last: dict[int, int] = {}
        read: dict[tuple[int, str], int] = {}
        for msg in stored:
            last[msg.conversation_id] = msg.seq
            # Sending in a conversation means having read it up to there.
            read[(msg.conversation_id, msg.sender)] = msg.seq
        cursor.executemany(self._advance_sql, [(seq, now, cid) for cid, seq in last.items()])
        cursor.executemany(self._read_sql,
                           [(seq, cid, uid, seq) for (cid, uid), seq in read.items()])
