"""Mentions: each member's last mentioning seq and each group's last "@all",
moved in the message's own transaction (the unread "@me" of a
conversation reads them). The message row keeps its own list of mentions."""

from __future__ import annotations

from operator import attrgetter

from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain.groups import GroupState
from tidings.domain.records import NewMessage, StoredMessage
from tidings.store.engine import Database
from tidings.store.writer.rows import Collected, TransactionRows


class MentionRows(TransactionRows):
    # Called for the messages that mention someone (the writer asks).
    only_for = attrgetter("mentions")

    def __init__(self, db: Database) -> None:
        self._members = Collected(db.driver_sql(
            "UPDATE conversation_members SET mention_seq = ?"
            " WHERE conversation_id = ? AND user_id = ?"))
        self._at_all = Collected(db.driver_sql(
            "UPDATE conversations SET at_all_seq = ? WHERE id = ?"))

    def message(self, r: NewMessage, entry: StoredMessage, group: GroupState | None,
                now: int) -> None:
        for user in r.mentions:
            if user == "@all":
                self._at_all.params.append((entry.seq, entry.conversation_id))
            elif group is not None and user in group.members and user != r.sender:
                self._members.params.append((entry.seq, entry.conversation_id, user))

    def flush(self, cursor: DBAPICursor) -> None:
        self._members.flush(cursor)
        self._at_all.flush(cursor)

    def discard(self) -> None:
        self._members.discard()
        self._at_all.discard()
