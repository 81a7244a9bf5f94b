"""What a feature adds to the transaction of an entry.

The writer stores messages, changes and group operations; the rows that
other features keep beside them (search text, media refs, mentions, the
callbacks outbox, push jobs) are written by ``TransactionRows`` that the
composition root registers with ``MessageWriter.register``. They run inside
the writer's transaction, on its thread, so what they add is committed
with the entry or not at all, and nobody is acked before.

A hook gets what it needs and collects parameters; ``flush`` writes them
with one ``executemany`` per statement, on the driver's cursor (through
SQLAlchemy each statement cost ~60 us: see ``MessageWriter._commit_in``).
Statements are driver SQL with ``?`` placeholders made by
``Database.driver_sql``.

The writer calls, for each batch:

- ``message`` for every message it stored (not for a resend, a refusal or
  a message dropped before it came here), with the group as the message
  was judged against (None for a one-to-one message), unless the feature
  set ``per_message`` False: it has nothing to add for a message (SQLite's
  push job rides in the message's own row, its search text follows the
  commits), and a call a message at thousands a second is not free; and
  only for the messages ``only_for`` holds true of, when the feature set it
  (the request's field it reads: a plain message carries no mentions, no
  after-send callback and no upload, and its three calls returned at once);
- ``stored`` with how many messages were stored since the last flush,
  once before each flush that has some (a feature that counts them);
- ``change`` for every recall or edit it applied (not for a refusal or a
  second recall), with the target as it was and the change entry, whose
  ``target`` is the message as it is now;
- ``group_op`` for every group operation that made a system entry;
- ``flush`` before each group operation (a disband removes the group's
  rows with it, so what was collected must be in first) and at the end of
  the batch, in the order the rows were registered;
- ``discard`` when the batch failed: what was collected is forgotten.

The default hooks do nothing; the writer calls only those a feature
overrides.

A feature may also have work that follows the commits (``later``, a
``LaterWork``): SQLite's search index is written so, in batches of its
own, off the path of the message's ack (store/search_index.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPICursor

from tidings.domain.groups import GroupState, Member
from tidings.domain.records import NewChange, NewGroupOp, NewMessage, StoredMessage


@dataclass(frozen=True, slots=True)
class GroupChange:
    """A group operation that changed the group, as its rows see it."""

    request: NewGroupOp
    # The system entry's content (its ``op`` and the details).
    entry: Mapping[str, Any]
    # The group before and after (None: not yet made / disbanded).
    before: GroupState | None
    after: GroupState | None
    # Who gets the entry: everyone who was or is a member.
    recipients: Mapping[str, Member]


class LaterWork:
    """Work that follows the writer's commits: run by the writer when no
    request waits, in a transaction of its own on the writer's connection
    that is not synced to disk (the next message's commit syncs it; a crash
    may lose it, so the work must find at start what is left to do)."""

    def wait(self) -> float | None:
        """Seconds until the work is due (0 or less: now); None when there
        is nothing to do. Asked on the event loop between batches."""
        return None

    def overdue(self) -> bool:
        """Whether a step must come between batches: a writer at saturation
        is never idle, and what waits must stay bounded."""
        return False

    def run(self, conn: Connection) -> None:
        """Do one step of the work, inside the transaction."""


class TransactionRows:
    """One feature's rows in the writer's transaction (see the module)."""

    # Work of this feature that follows the commits, if any.
    later: LaterWork | None = None
    # Whether the writer calls ``message`` for each message (see the
    # module): set before ``register``.
    per_message: bool = True
    # The messages ``message`` is called for: those of which this is true
    # (asked by the writer, so a C ``attrgetter`` of the field the feature
    # reads costs less than the call it saves); None: every message.
    only_for: Callable[[NewMessage], object] | None = None

    def message(self, r: NewMessage, entry: StoredMessage, group: GroupState | None,
                now: int) -> None:
        """A message was stored as ``entry``: collect its rows."""

    def stored(self, count: int) -> None:
        """``count`` messages were stored since the last flush."""

    def change(self, cursor: DBAPICursor, r: NewChange, before: StoredMessage,
               entry: StoredMessage, now: int) -> None:
        """A recall or edit was applied: ``before`` is the target as it was,
        ``entry.target`` as it is now. Changes are few: a hook may execute
        on ``cursor`` at once."""

    def group_op(self, cursor: DBAPICursor, change: GroupChange, now: int) -> None:
        """A group operation made a system entry."""

    def flush(self, cursor: DBAPICursor) -> None:
        """Write what was collected, and forget it."""

    def discard(self) -> None:
        """The batch failed: forget what was collected."""


def overrides(rows: TransactionRows, hook: str) -> bool:
    """Whether ``rows`` does something in ``hook`` (the writer calls no
    default, per message at thousands a second)."""
    return getattr(type(rows), hook) is not getattr(TransactionRows, hook)


class Collected:
    """Parameters of one statement, collected during a batch and written by
    one ``executemany``: the usual shape of a feature's rows."""

    __slots__ = ("params", "sql")

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.params: list[tuple[Any, ...]] = []

    def flush(self, cursor: DBAPICursor) -> None:
        if self.params:
            params, self.params = self.params, []
            cursor.executemany(self.sql, params)

    def discard(self) -> None:
        self.params = []
