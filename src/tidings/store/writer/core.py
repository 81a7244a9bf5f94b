"""Group commit: every message that arrives while one transaction commits goes
into the next one, and nobody is acked before the commit that holds them.

The writer is the only code that assigns ``seq``. It keeps each conversation's
last ``seq`` in memory once read, so a batch costs a handful of statements
whatever its size. One writer per database: in a cluster the conversation
would be routed to the process that owns it (a later issue).

A recall or an edit is an entry of the seq stream too (``NewChange``): in the
transaction that changes the target row the writer gives the change the
conversation's next seq, so catch-up by seq carries changes like messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, cast

import orjson
from sqlalchemy import Connection, insert, select, tuple_
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain import group_rights
from tidings.domain.callbacks import Event, message_data
from tidings.domain.clock import now_ms
from tidings.domain.elements import EntryKind, ImportMode, MessageState
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.group_callbacks import GroupEvent, op_data
from tidings.domain.group_callbacks import message_data as group_message_data
from tidings.domain.group_rights import Action
from tidings.domain.groups import GroupState, GroupType, JoinOption, Member
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.media import media_ids
from tidings.domain.records import (
    CommitHook,
    Committed,
    NewChange,
    NewGroupOp,
    NewMessage,
    Request,
    StoredMessage,
)
from tidings.domain.search import searchable_text
from tidings.store.callbacks import OUTBOX_INSERT_SQL, outbox_params
from tidings.store.engine import Database
from tidings.store.groups import GroupOp, GroupTx, load_state
from tidings.store.push import JOB_INSERT_SQL
from tidings.store.schema import conversation_members, conversations
from tidings.store.search import TEXT_DELETE_SQL, TEXT_INSERT_SQL

log = logging.getLogger(__name__)

_EMPTY = GroupState("", GroupType.WORK, "", JoinOption.DISABLED, False, 0)

# Conversations whose last seq we remember; past this the memory is dropped
# and reloaded from the database on demand.
CACHE_LIMIT = 200_000

_ENTRY_COLUMNS = ("conversation_id, seq, sdkappid, sender, client_msg_id, elements,"
                  " cloud_custom_data, created_at, state, kind, target_seq, imported, edited_at,"
                  " change_seq, changed_by")



class _Conv:
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


class WriterStopped(TidingsError):
    def __init__(self) -> None:
        super().__init__(ErrorCode.SERVICE_UNAVAILABLE, "the server is shutting down")


class MessageWriter:
    def __init__(self, db: Database, *, max_batch: int, on_commit: CommitHook,
                 push: Callable[[int], bool] = lambda sdkappid: True) -> None:
        self._db = db
        # Whether an app's messages get a push job (services/push.py decides
        # them later); called on the batch's thread, so it must not block.
        self._push = push
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: list[tuple[Request, asyncio.Future[Committed]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._conversations: dict[ConversationKey, _Conv] = {}
        self._dedup_cache: dict[int, str] = {}
        self._insert_sql = db.driver_sql(
            "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
            " elements, cloud_custom_data, created_at, state, msg_no, imported, mentions)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)")
        self._mention_sql = db.driver_sql(
            "UPDATE conversation_members SET mention_seq = ?"
            " WHERE conversation_id = ? AND user_id = ?")
        self._at_all_sql = db.driver_sql("UPDATE conversations SET at_all_seq = ? WHERE id = ?")
        self._advance_sql = db.driver_sql(
            "UPDATE conversations SET last_seq = ?, last_time = ?, last_message_seq = ?,"
            " last_msg_no = ? WHERE id = ?")
        self._outbox_sql = db.driver_sql(OUTBOX_INSERT_SQL)
        self._push_sql = db.driver_sql(JOB_INSERT_SQL)
        self._read_sql = db.driver_sql(
            "UPDATE conversation_members SET read_seq = ?, read_msg_no = ?"
            " WHERE conversation_id = ? AND user_id = ? AND read_seq < ?")
        self._entry_sql = db.driver_sql(
            f"SELECT {_ENTRY_COLUMNS} FROM messages WHERE conversation_id = ? AND seq = ?")
        self._change_sql = db.driver_sql(
            "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
            " elements, cloud_custom_data, created_at, state, kind, target_seq, msg_no,"
            " changed_by) VALUES (?, ?, ?, '', ?, '[]', '', ?, 0, ?, ?, ?, ?)")
        self._recall_sql = db.driver_sql(
            "UPDATE messages SET elements = '[]', cloud_custom_data = '', state = ?,"
            " change_seq = ?, changed_by = ? WHERE conversation_id = ? AND seq = ?")
        self._system_sql = db.driver_sql(
            "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
            " elements, cloud_custom_data, created_at, state, kind, msg_no)"
            " VALUES (?, ?, ?, ?, ?, ?, '', ?, 0, ?, ?)")
        # Search: a message's text is indexed, replaced and removed with it.
        self._text_insert_sql = db.driver_sql(TEXT_INSERT_SQL)
        self._text_delete_sql = db.driver_sql(TEXT_DELETE_SQL)
        self._edit_sql = db.driver_sql(
            "UPDATE messages SET elements = ?, cloud_custom_data = ?, state = ?, edited_at = ?,"
            " change_seq = ?, changed_by = ? WHERE conversation_id = ? AND seq = ?")
        # Which entries carry uploads (media downloads and collection read it).
        self._media_ref_sql = db.driver_sql(
            "INSERT INTO media_refs (media_id, conversation_id, seq, sdkappid)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
        self._media_unref_sql = db.driver_sql(
            "DELETE FROM media_refs WHERE conversation_id = ? AND seq = ?")
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

    def submit(self, message: Request) -> asyncio.Future[Committed]:
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

    def _fail(self, batch: list[tuple[Request, asyncio.Future[Committed]]],
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

    async def _commit(self, batch: list[tuple[Request, asyncio.Future[Committed]]]
                      ) -> list[Committed | TidingsError]:
        return await self._db.run_write(self._commit_in, [m for m, _ in batch], now_ms())

    def _commit_in(self, conn: Connection, requests: list[Request], now: int
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

    def _write_batch(self, conn: Connection, cursor: DBAPICursor, requests: list[Request],
                     now: int) -> list[Committed | TidingsError]:
        sends = [r for r in requests if isinstance(r, NewMessage)]
        earlier = self._stored_before(cursor, sends) if sends else {}
        fresh = [r for r in sends
                 if (r.key.sdkappid, r.sender, r.client_msg_id) not in earlier]
        changes = [r for r in requests if not isinstance(r, NewMessage)] if (
            len(sends) != len(requests)) else []
        # A message makes its one-to-one conversation; a group is made only
        # by its creation.
        create = {r.key for r in fresh if r.key.kind is ConversationKind.C2C}
        lookup = {r.key for r in changes} | {r.key for r in fresh
                                             if r.key.kind is ConversationKind.GROUP}
        self._load_conversations(conn, create, lookup, now)
        rows: list[tuple[Any, ...]] = []
        texts: list[tuple[Any, ...]] = []
        refs: list[tuple[Any, ...]] = []  # the uploads each message carries
        stored: dict[int, Committed | TidingsError] = {}
        touched: dict[int, _Conv] = {}
        read: dict[tuple[int, str], tuple[int, int]] = {}
        mentioned: list[tuple[int, int, str]] = []
        at_all: list[tuple[int, int]] = []
        for r in (requests if changes else fresh):
            if isinstance(r, NewChange):
                stored[id(r)] = self._change(cursor, r, now, touched)
                continue
            if isinstance(r, NewGroupOp):
                if rows:
                    # Before the operation: a disband removes them with the group.
                    cursor.executemany(self._insert_sql, rows)
                    rows.clear()
                if texts:
                    cursor.executemany(self._text_insert_sql, texts)
                    texts.clear()
                if refs:
                    cursor.executemany(self._media_ref_sql, refs)
                    refs.clear()
                stored[id(r)] = self._group_op(conn, cursor, r, now, touched)
                continue
            if earlier and (r.key.sdkappid, r.sender, r.client_msg_id) in earlier:
                continue
            recipients: Mapping[str, Member] | None = None
            if r.key.kind is ConversationKind.GROUP:
                group = self._conversations.get(r.key)
                if group is None or group.group is None:
                    stored[id(r)] = TidingsError(ErrorCode.NOT_FOUND, f"no group {r.key.a!r}")
                    continue
                try:
                    if not r.privileged or group.group.type is GroupType.LIVE:
                        group_rights.check_send(group.group, r.sender, now)
                except TidingsError as refused:
                    stored[id(r)] = refused
                    continue
                recipients = group.group.members
            conv = self._conversations[r.key]
            conv.last_seq = seq = conv.last_seq + 1
            touched[conv.id] = conv
            at = now if r.time is None else r.time
            if r.imported is not ImportMode.HISTORY:
                conv.last_msg_no += 1
                # Sending in a conversation means having read it up to there.
                read[(conv.id, r.sender)] = (seq, conv.last_msg_no)
            if r.time is None or at >= conv.last_time:
                # An import older than the conversation's last message is
                # history: it is not the newest message, whatever its seq.
                conv.last_time = at
                conv.last_message_seq = seq
            mentions = None
            if r.mentions:
                mentions = orjson.dumps(r.mentions).decode()
                for user in r.mentions:
                    if user == "@all":
                        at_all.append((seq, conv.id))
                    elif recipients is not None and user in recipients and user != r.sender:
                        mentioned.append((seq, conv.id, user))
            msg = StoredMessage(conv.id, r.key, seq, r.sender, r.client_msg_id,
                                r.elements, r.cloud_custom_data, at, 0, imported=r.imported,
                                mentions=mentions or "")
            stored[id(r)] = Committed(r, msg, duplicate=False, recipients=recipients)
            rows.append((conv.id, seq, r.key.sdkappid, r.sender, r.client_msg_id,
                         r.elements, r.cloud_custom_data, at, conv.last_msg_no, r.imported,
                         mentions))
            if body := searchable_text(r.elements):
                texts.append((conv.id, seq, r.key.sdkappid, r.sender, at, body))
            refs.extend((media_id, conv.id, seq, r.key.sdkappid)
                        for media_id in media_ids(r.elements))
        if rows:
            cursor.executemany(self._insert_sql, rows)
        if texts:
            cursor.executemany(self._text_insert_sql, texts)
        if refs:
            cursor.executemany(self._media_ref_sql, refs)
        if touched:
            cursor.executemany(self._advance_sql, [
                (c.last_seq, c.last_time, c.last_message_seq, c.last_msg_no, c.id)
                for c in touched.values()])
        if mentioned:
            cursor.executemany(self._mention_sql, mentioned)
        if at_all:
            cursor.executemany(self._at_all_sql, at_all)
        if read:
            cursor.executemany(self._read_sql, [(seq, no, cid, uid, seq)
                                                for (cid, uid), (seq, no) in read.items()])
        events = [self._after_send(r, outcome.message, now) for r in fresh
                  if r.after_send is not None
                  and isinstance(outcome := stored.get(id(r)), Committed)]
        events += [self._after_recall(outcome.message, now) for r in changes
                   if isinstance(r, NewChange) and r.after_recall
                   and isinstance(outcome := stored.get(id(r)), Committed)
                   and not outcome.duplicate]
        if events:
            cursor.executemany(self._outbox_sql, events)
        jobs = [(r.key.sdkappid, outcome.message.conversation_id, outcome.message.seq, r.push,
                 now) for r in fresh
                if r.push is not None and r.imported is not ImportMode.HISTORY
                and isinstance(outcome := stored.get(id(r)), Committed)
                and self._push(r.key.sdkappid)]
        if jobs:
            cursor.executemany(self._push_sql, jobs)
        result: list[Committed | TidingsError] = []
        for r in requests:
            outcome = stored.get(id(r))
            if outcome is not None:
                result.append(outcome)
                continue
            assert isinstance(r, NewMessage)
            first = earlier[(r.key.sdkappid, r.sender, r.client_msg_id)]
            if first.key != r.key:
                result.append(TidingsError(
                    ErrorCode.CLIENT_MSG_ID_REUSED,
                    "this client message id was already used in another conversation"))
            else:
                result.append(Committed(r, first, duplicate=True))
        return result

    @staticmethod
    def _after_recall(entry: StoredMessage, now: int) -> tuple[Any, ...]:
        target = entry.target
        assert target is not None
        peer = target.key.b if target.sender == target.key.a else target.key.a
        data = {"from": target.sender, "to": peer, "conversation_id": f"c2c_{peer}",
                "msg_id": target.msg_id, "seq": target.seq,
                "recalled_by": "admin" if entry.changed_by.startswith("admin:") else "sender",
                "time": now}
        return outbox_params(target.key.sdkappid, Event.AFTER_RECALL,
                             orjson.dumps(data).decode(), now)

    def precheck_send(self, key: ConversationKey, sender: str) -> None:
        """Refuse a group message early (before any callback) when the group
        as last committed says so; the commit judges again, exactly."""
        conv = self._conversations.get(key)
        if conv is not None and conv.group is not None:
            group_rights.check_send(conv.group, sender, now_ms())

    def group_members(self, key: ConversationKey) -> Iterable[str] | None:
        """The members of a group the writer has in memory (None when it has
        not: the store's member rows say the same)."""
        conv = self._conversations.get(key)
        return None if conv is None or conv.group is None else conv.group.members.keys()

    def group_type(self, key: ConversationKey) -> str:
        """The type of a group the writer has in memory ("" when it has not)."""
        conv = self._conversations.get(key)
        return "" if conv is None or conv.group is None else conv.group.type.value

    def _after_send(self, r: NewMessage, msg: StoredMessage, now: int) -> tuple[Any, ...]:
        assert r.after_send is not None
        if msg.key.kind is ConversationKind.GROUP:
            data = group_message_data(
                msg.key.a, self.group_type(msg.key), msg.sender, msg.client_msg_id,
                msg.elements, msg.cloud_custom_data, *r.after_send, msg_id=msg.msg_id,
                seq=msg.seq, time=msg.created_at)
            return outbox_params(msg.key.sdkappid, GroupEvent.AFTER_SEND, data.decode(), now)
        peer = msg.key.b if msg.sender == msg.key.a else msg.key.a
        data = message_data(msg.sender, peer, msg.client_msg_id, msg.elements,
                            msg.cloud_custom_data, *r.after_send, msg_id=msg.msg_id,
                            seq=msg.seq, time=msg.created_at)
        return outbox_params(msg.key.sdkappid, Event.AFTER_SEND, data.decode(), now)

    def _entry(self, cursor: DBAPICursor, key: ConversationKey, conv_id: int,
               seq: int) -> StoredMessage | None:
        cursor.execute(self._entry_sql, (conv_id, seq))
        row = cursor.fetchone()
        if row is None:
            return None
        (_, _, _, sender, client_msg_id, elements, custom, created_at, state, kind, target_seq,
         imported, edited_at, change_seq, changed_by) = row
        return StoredMessage(conv_id, key, seq, sender, client_msg_id, elements, custom,
                             created_at, state, kind=kind, target_seq=target_seq or 0,
                             imported=imported, edited_at=edited_at, change_seq=change_seq,
                             changed_by=changed_by or "")

    def _change(self, cursor: DBAPICursor, r: NewChange, now: int,
                touched: dict[int, _Conv]) -> Committed | TidingsError:
        """Check one recall or edit against its target as it stands, and if
        it holds, apply it and append its entry. Refusals use no seq."""
        conv = self._conversations.get(r.key)
        group = None if conv is None else conv.group
        if r.key.kind is ConversationKind.GROUP:
            if group is None:
                return TidingsError(ErrorCode.NOT_FOUND, f"no group {r.key.a!r}")
            if r.actor is not None and r.actor not in group.members:
                return TidingsError(ErrorCode.NOT_A_MEMBER, "you are not a member of this group")
        target = None if conv is None else self._entry(cursor, r.key, conv.id, r.target_seq)
        if conv is None or target is None or target.kind != EntryKind.MESSAGE:
            return TidingsError(ErrorCode.MESSAGE_NOT_FOUND,
                                f"no message with seq {r.target_seq} in this conversation")
        window_ms = r.window_ms
        if (group is not None and r.actor is not None and r.kind is EntryKind.RECALL
                and target.sender != r.actor):
            # An owner or admin recalls another's message: no window.
            try:
                group_rights.check(group, r.actor, Action.RECALL, target.sender)
            except TidingsError as refused:
                return refused
            window_ms = 0
        elif r.sender is not None and target.sender != r.sender:
            return TidingsError(ErrorCode.NOT_MESSAGE_SENDER,
                                "only the sender of a message may recall or edit it")
        if target.state == MessageState.RECALLED:
            first = self._entry(cursor, r.key, conv.id, target.change_seq)
            if r.kind is EntryKind.RECALL and first is not None:
                # Recalling twice is not an error: the first recall's answer.
                return Committed(r, replace(first, target=target), duplicate=True)
            return TidingsError(ErrorCode.MESSAGE_RECALLED, "the message was recalled")
        if window_ms and now - target.created_at > window_ms:
            what = "recalled" if r.kind is EntryKind.RECALL else "edited"
            return TidingsError(ErrorCode.CHANGE_TOO_LATE,
                                f"a message can be {what} within {window_ms / 1000:g} s of "
                                "its time")
        seq = conv.last_seq + 1
        if r.kind is EntryKind.RECALL:
            state, elements, custom, edited_at = MessageState.RECALLED, "[]", "", target.edited_at
            cursor.execute(self._recall_sql, (state, seq, r.changed_by, conv.id, r.target_seq))
            # A recalled message is found by nobody.
            cursor.execute(self._text_delete_sql, (conv.id, r.target_seq))
            if media_ids(target.elements):
                cursor.execute(self._media_unref_sql, (conv.id, r.target_seq))
        else:
            state, edited_at = MessageState.EDITED, now
            elements = target.elements if r.elements is None else r.elements
            custom = target.cloud_custom_data if r.cloud_custom_data is None else (
                r.cloud_custom_data)
            size = len(elements.encode()) + len(custom.encode())
            if r.max_bytes and size > r.max_bytes:
                return TidingsError(ErrorCode.MESSAGE_TOO_LONG,
                                    f"message is {size} bytes; the limit is {r.max_bytes}")
            cursor.execute(self._edit_sql, (elements, custom, state, now, seq, r.changed_by,
                                            conv.id, r.target_seq))
            # Found by its new text only (it keeps its time: results go by it).
            cursor.execute(self._text_delete_sql, (conv.id, r.target_seq))
            if body := searchable_text(elements):
                cursor.execute(self._text_insert_sql, (conv.id, r.target_seq, r.key.sdkappid,
                                                       target.sender, target.created_at, body))
            if r.elements is not None and (media_ids(target.elements) or media_ids(elements)):
                cursor.execute(self._media_unref_sql, (conv.id, r.target_seq))
                for media_id in media_ids(elements):
                    cursor.execute(self._media_ref_sql,
                                   (media_id, conv.id, r.target_seq, r.key.sdkappid))
        client_msg_id = f"~{conv.id}-{seq}"  # never a sender's: change entries have none
        cursor.execute(self._change_sql, (conv.id, seq, r.key.sdkappid, client_msg_id, now,
                                          r.kind, r.target_seq, conv.last_msg_no,
                                          r.changed_by))
        conv.last_seq = seq
        touched[conv.id] = conv
        changed = StoredMessage(
            conv.id, r.key, r.target_seq, target.sender, target.client_msg_id, elements, custom,
            target.created_at, state, imported=target.imported, edited_at=edited_at,
            change_seq=seq, changed_by=r.changed_by)
        entry = StoredMessage(conv.id, r.key, seq, "", client_msg_id, "[]", "", now, 0,
                              kind=r.kind, target_seq=r.target_seq, changed_by=r.changed_by,
                              target=changed)
        return Committed(r, entry, duplicate=False,
                         recipients=None if group is None else group.members)

    def _group_op(self, conn: Connection, cursor: DBAPICursor, r: NewGroupOp, now: int,
                  touched: dict[int, _Conv]) -> Committed | TidingsError:
        """Judge and write one group operation; when it changed something,
        its system entry takes the group's next seq."""
        conv = self._conversations.get(r.key)
        made: list[int] = []

        def create() -> int:
            if conv is not None:
                return conv.id
            made.append(self._create(conn, r.key, now))
            return made[0]

        tx = GroupTx(conn, r.key, None if conv is None else conv.group,
                     None if conv is None else conv.id,
                     1 if conv is None else conv.last_seq + 1,
                     0 if conv is None else conv.last_msg_no, now, create)
        try:
            # Every GroupOperation the services submit is one of the store's ops.
            outcome = cast(GroupOp, r.op).apply(tx)
        except TidingsError as refused:
            return refused
        if made:
            conv = self._conversations[r.key] = _Conv(made[0], 0, 0, 0, 0)
        assert conv is not None
        before = conv.group
        conv.group = outcome.state
        if outcome.entry is None or (outcome.state is not None
                                     and outcome.state.type is GroupType.LIVE):
            # Nothing changed: an answer, no entry. (A Live group keeps no
            # seq stream: its changes are written, never entered.)
            entry = StoredMessage(conv.id, r.key, 0, "", "", "{}", "", now, 0,
                                  kind=EntryKind.SYSTEM)
            return Committed(r, entry, duplicate=True, result=outcome.result)
        seq = conv.last_seq + 1
        elements = orjson.dumps(outcome.entry).decode()
        sender = r.op.actor or ""
        client_msg_id = f"~{conv.id}-{seq}"
        # Everyone who was or is a member sees the entry: a kicked member
        # learns of the kick, a new one of the join.
        recipients: Mapping[str, Member]
        if before is None or outcome.state is None:
            recipients = (outcome.state or before or _EMPTY).members
        elif before.members is outcome.state.members:
            recipients = before.members
        else:
            recipients = {**before.members, **outcome.state.members}
        if r.callbacks:
            # The app's after-event of this change, durable with it.
            group_type = (outcome.state or before or _EMPTY).type.value
            event = op_data(outcome.entry, r.key.a, group_type, now, recipients)
            if event is not None and event[0] in r.callbacks:
                cursor.execute(self._outbox_sql, outbox_params(
                    r.key.sdkappid, event[0], orjson.dumps(event[1]).decode(), now))
        if outcome.state is None:
            # Disbanded: the conversation and its entries are gone.
            self._conversations.pop(r.key, None)
            touched.pop(conv.id, None)
        else:
            cursor.execute(self._system_sql, (conv.id, seq, r.key.sdkappid, sender,
                                              client_msg_id, elements, now, EntryKind.SYSTEM,
                                              conv.last_msg_no))
            conv.last_seq = seq
            conv.last_time = max(conv.last_time, now)
            touched[conv.id] = conv
        entry = StoredMessage(conv.id, r.key, seq, sender, client_msg_id, elements, "", now, 0,
                              kind=EntryKind.SYSTEM)
        return Committed(r, entry, duplicate=False, recipients=recipients,
                         result=outcome.result)

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

    def _load_conversations(self, conn: Connection, create: set[ConversationKey],
                            lookup: set[ConversationKey], now: int) -> None:
        """Bring the conversations of a batch into memory: those in ``create``
        are made when they do not exist, those only in ``lookup`` are not."""
        keys = create | lookup if lookup else create
        missing = [k for k in keys if k not in self._conversations]
        if not missing:
            return
        if len(self._conversations) + len(missing) > CACHE_LIMIT:
            self._conversations.clear()
            missing = list(keys)  # what this batch needs must stay
        c = conversations.c
        for i in range(0, len(missing), 400):
            stmt = select(c.id, c.sdkappid, c.kind, c.a, c.b, c.last_seq, c.last_message_seq,
                          c.last_msg_no, c.last_time).where(
                tuple_(c.sdkappid, c.kind, c.a, c.b).in_(
                    [(k.sdkappid, k.kind.value, k.a, k.b) for k in missing[i:i + 400]]))
            for row in conn.execute(stmt).all():
                key = ConversationKey(row.sdkappid, ConversationKind(row.kind), row.a, row.b)
                self._conversations[key] = _Conv(row.id, row.last_seq, row.last_message_seq,
                                                 row.last_msg_no, row.last_time)
        for key in missing:
            if key not in self._conversations and key in create:
                self._conversations[key] = _Conv(self._create(conn, key, now), 0, 0, 0, 0)
            elif key.kind is ConversationKind.GROUP and (conv := self._conversations.get(key)):
                conv.group = load_state(conn, conv.id)

    def _create(self, conn: Connection, key: ConversationKey, now: int) -> int:
        new_id = (conn.execute(
            insert(conversations).values(sdkappid=key.sdkappid, kind=key.kind.value, a=key.a,
                                         b=key.b, last_seq=0, last_time=0, created_at=now)
            .returning(conversations.c.id)
        )).scalar_one()
        if key.kind is ConversationKind.C2C:
            conn.execute(insert(conversation_members), [
                {"conversation_id": new_id, "user_id": user, "sdkappid": key.sdkappid,
                 "read_seq": 0, "joined_at": now}
                for user in key.members()
            ])
        return int(new_id)

