"""Group operations in the writer's transaction: each is judged on the group
as it stands (the writer's memory, kept exact by these operations), written
by the store's ``GroupOp``, and when it changed something its system entry
takes the group's next seq."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

import orjson
from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain.elements import EntryKind
from tidings.domain.errors import TidingsError
from tidings.domain.groups import GroupState, GroupType, JoinOption, Member
from tidings.domain.records import Committed, NewGroupOp, StoredMessage
from tidings.store.engine import Database
from tidings.store.groups import GroupOp, GroupTx
from tidings.store.writer.conversations import Conv, Conversations
from tidings.store.writer.rows import GroupChange

_EMPTY = GroupState("", GroupType.WORK, "", JoinOption.DISABLED, False, 0)

# TransactionRows.group_op of the registered features.
GroupOpHook = Callable[[DBAPICursor, GroupChange, int], None]


class GroupOps:
    def __init__(self, db: Database, conversations: Conversations) -> None:
        self._conversations = conversations
        self._system_sql = db.driver_sql(
            "INSERT INTO messages (conversation_id, seq, sdkappid, sender, client_msg_id,"
            " elements, cloud_custom_data, created_at, state, kind, msg_no)"
            " VALUES (?, ?, ?, ?, ?, ?, '', ?, 0, ?, ?)")

    def apply(self, conn: Connection, cursor: DBAPICursor, r: NewGroupOp, now: int,
              hooks: Sequence[GroupOpHook]) -> Committed | TidingsError:
        """Judge and write one group operation; when it changed something,
        its system entry takes the group's next seq, and the features add
        their rows."""
        conv = self._conversations.get(r.key)
        made: list[int] = []

        def create() -> int:
            if conv is not None:
                return conv.id
            made.append(self._conversations.create(conn, r.key, now))
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
            conv = self._conversations.remember(r.key, Conv(made[0], 0, 0, 0, 0))
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
        if hooks:
            change = GroupChange(r, outcome.entry, before, outcome.state, recipients)
            for hook in hooks:
                hook(cursor, change, now)
        if outcome.state is None:
            # Disbanded: the conversation and its entries are gone.
            self._conversations.forget(r.key)
        else:
            cursor.execute(self._system_sql, (conv.id, seq, r.key.sdkappid, sender,
                                              client_msg_id, elements, now, EntryKind.SYSTEM,
                                              conv.last_msg_no))
            conv.last_seq = seq
            conv.last_time = max(conv.last_time, now)
            self._conversations.touch(conv)
        entry = StoredMessage(conv.id, r.key, seq, sender, client_msg_id, elements, "", now, 0,
                              kind=EntryKind.SYSTEM)
        return Committed(r, entry, duplicate=False, recipients=recipients,
                         result=outcome.result)
