"""A login's first sync reads the member's conversations, their settings
and (for read receipts) each one-to-one peer's read cursor. They were three
statements, one after another (the peers' needed the conversations' ids):
on PostgreSQL three round trips per login, the most of a returning login's
six or seven. Here they are one select, the settings and the peer's cursor
joined to each conversation row (store/prepared.py runs it on the driver)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)

from tidings.domain.conversations import ConversationSettings
from tidings.domain.ids import ConversationKey, ConversationKind
from tidings.domain.records import ConversationState, StoredMessage
from tidings.store.conversation_settings import settings_of_row
from tidings.store.engine import Database
from tidings.store.messages import CONVERSATION_COLUMNS, last_messages_of, state_of
from tidings.store.prepared import Prepared
from tidings.store.schema import conversation_members, conversation_settings, conversations

_cm, _c, _s = conversation_members.c, conversations.c, conversation_settings.c
_peer = conversation_members.alias("peer")

# The same rows and order as messages._CONVERSATIONS_OF, each with its
# settings (a conversation's settings row is the member's own: its key is
# (conversation, user)) and, for a one-to-one conversation, the other
# member's cursor (at most one row: a one-to-one conversation has two members).
_FIRST_SYNC = Prepared(
    select(*CONVERSATION_COLUMNS,
           _s.conversation_id.label("settings_of"), _s.pinned, _s.muted, _s.hidden_seq,
           _s.cleared_seq, _s.draft, _s.draft_time, _peer.c.read_seq.label("peer_read_seq"))
    # The joins spelled out (not .join()): Prepared.rows_each puts the
    # statement in a LATERAL subquery, where the left side would be ambiguous.
    .select_from(conversations
                 .join(conversation_members, _cm.conversation_id == _c.id)
                 .outerjoin(conversation_settings, and_(_s.conversation_id == _c.id,
                                                        _s.user_id == _cm.user_id))
                 .outerjoin(_peer, and_(_c.kind == ConversationKind.C2C.value,
                                        _peer.c.conversation_id == _c.id,
                                        _peer.c.user_id != _cm.user_id)))
    .where(_cm.sdkappid == bindparam("sdkappid"), _cm.user_id == bindparam("user_id"))
    .order_by(_c.last_time.desc(), _c.id.desc())
)
# The conversation list's rows: the first sync's, without the hidden ones,
# pinned first, the first ``limit``. For a user of many conversations and a
# small list the database sorts and cuts (1,000 conversations and a list
# of 20: bench/journal/mend12.md), not Python after reading them all.
_LISTED = Prepared(
    _FIRST_SYNC.statement
    .where(or_(_s.hidden_seq.is_(None), _c.last_message_seq > _s.hidden_seq))
    .order_by(None)
    .order_by(func.coalesce(_s.pinned, literal_column("0")).desc(), _c.last_time.desc(),
              _c.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
# Some of the member's conversations by key (the list's ``conversation_ids``):
# the first sync's rows, hidden ones included, in the list's order. The keys
# are a parameter list (at most 100 of them: the op's limit), so the
# statement is built per call (``_at``'s way), not prepared.
_BY_KEY = _FIRST_SYNC.statement.order_by(None).order_by(
    func.coalesce(_s.pinned, literal_column("0")).desc(), _c.last_time.desc(), _c.id.desc())


@dataclass(slots=True)
class FirstSync:
    # Most recently active first, without their last messages.
    states: list[ConversationState]
    # By conversation number; default settings are not there.
    settings: dict[int, ConversationSettings]
    # One-to-one conversations only: the peer's read seq.
    peer_reads: dict[int, int]


def _found(rows: Sequence[Any]) -> FirstSync:
    found = FirstSync([], {}, {})
    for r in rows:
        found.states.append(state_of(r))
        if r.settings_of is not None:
            found.settings[r.id] = settings_of_row(r)
        if r.peer_read_seq is not None:
            found.peer_reads[r.id] = r.peer_read_seq
    return found


async def first_sync(db: Database, sdkappid: int, user_id: str) -> FirstSync:
    """What MessageStore.conversations_of,
    ConversationSettingsStore.of_user (for these conversations) and
    MessageStore.peer_read_seqs (for their one-to-one ones) answer, in one
    statement."""
    return _found(await db.read_rows(_FIRST_SYNC, {"sdkappid": sdkappid, "user_id": user_id}))


async def conversation_list(db: Database, sdkappid: int, user_id: str, limit: int
                            ) -> tuple[FirstSync, dict[int, StoredMessage]]:
    """The conversation list's first ``limit`` conversations (pinned ones
    first, then by last activity, hidden ones left out) as ``first_sync``
    answers them, and their last messages, in one read."""

    def read(conn: Connection) -> tuple[FirstSync, dict[int, StoredMessage]]:
        found = _found(_LISTED.rows(conn, {"sdkappid": sdkappid, "user_id": user_id,
                                           "limit": limit}))
        return found, last_messages_of(conn, found.states)

    return await db.read(read)


async def conversations_by_key(db: Database, sdkappid: int, user_id: str,
                               keys: Sequence[ConversationKey]
                               ) -> tuple[FirstSync, dict[int, StoredMessage]]:
    """Those of ``keys`` that the member is in, as ``conversation_list``
    answers them (hidden ones included), and their last messages, in one read."""
    wanted = list({(k.sdkappid, k.kind.value, k.a, k.b) for k in keys})

    def read(conn: Connection) -> tuple[FirstSync, dict[int, StoredMessage]]:
        found = _found(conn.execute(
            _BY_KEY.where(tuple_(_c.sdkappid, _c.kind, _c.a, _c.b).in_(wanted)),
            {"sdkappid": sdkappid, "user_id": user_id}).all())
        return found, last_messages_of(conn, found.states)

    return await db.read(read)
