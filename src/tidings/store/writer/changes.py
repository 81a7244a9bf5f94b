"""Recall and edit: a change is judged against its target as it stands in
the writer's transaction (two changes of one message are never judged on
the same state), applied to the target row, and entered in the
conversation's seq stream, so catch-up by seq carries changes like
messages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain import group_rights
from tidings.domain.elements import EntryKind, MessageState
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.group_rights import Action
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import Committed, NewChange, StoredMessage
from tidings.store.engine import Database
from tidings.store.writer.conversations import Conversations

_ENTRY_COLUMNS = ("conversation_id, seq, sdkappid, sender, client_msg_id, elements,"
                  " cloud_custom_data, created_at, state, kind, target_seq, imported, edited_at,"
                  " change_seq, changed_by")

# TransactionRows.change of the registered features.
ChangeHook = Callable[[DBAPICursor, NewChange, StoredMessage, StoredMessage, int], None]


class Changes:
    def __init__(self, db: Database, conversations: Conversations) -> None:
        self._conversations = conversations
        self._entry_sql = db.driver_sql(
            f"SELECT {_ENTRY_COLUMNS} FROM messages WHERE conversation_id = ? AND seq = ?")
        self._change_sql = db.driver_sql(
            "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
            " elements, cloud_custom_data, created_at, state, kind, target_seq, msg_no,"
            " changed_by) VALUES (?, ?, ?, '', ?, '[]', '', ?, 0, ?, ?, ?, ?)")
        self._recall_sql = db.driver_sql(
            "UPDATE messages SET elements = '[]', cloud_custom_data = '', state = ?,"
            " change_seq = ?, changed_by = ? WHERE conversation_id = ? AND seq = ?")
        self._edit_sql = db.driver_sql(
            "UPDATE messages SET elements = ?, cloud_custom_data = ?, state = ?, edited_at = ?,"
            " change_seq = ?, changed_by = ? WHERE conversation_id = ? AND seq = ?")

    def apply(self, cursor: DBAPICursor, r: NewChange, now: int,
              hooks: Sequence[ChangeHook]) -> Committed | TidingsError:
        """Check one recall or edit against its target as it stands, and if
        it holds, apply it and append its entry; then the features' rows.
        Refusals use no seq."""
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
        client_msg_id = f"~{conv.id}-{seq}"  # never a sender's: change entries have none
        cursor.execute(self._change_sql, (conv.id, seq, r.key.sdkappid, client_msg_id, now,
                                          r.kind, r.target_seq, conv.last_msg_no,
                                          r.changed_by))
        conv.last_seq = seq
        self._conversations.touch(conv)
        changed = StoredMessage(
            conv.id, r.key, r.target_seq, target.sender, target.client_msg_id, elements, custom,
            target.created_at, state, imported=target.imported, edited_at=edited_at,
            change_seq=seq, changed_by=r.changed_by)
        entry = StoredMessage(conv.id, r.key, seq, "", client_msg_id, "[]", "", now, 0,
                              kind=r.kind, target_seq=r.target_seq, changed_by=r.changed_by,
                              target=changed)
        for hook in hooks:
            hook(cursor, r, target, entry, now)
        return Committed(r, entry, duplicate=False,
                         recipients=None if group is None else group.members)

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
