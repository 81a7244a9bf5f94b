"""Reading: a conversation's history (a member's, or the app's admin's of a
group), the user's conversation list, and what every read shares with sync
and the read cursors: the page limit, the membership check, the user's
conversation settings, the peers' read cursors, and the decoration of
message views (reactions, quotes of messages recalled since)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from tidings.domain.conversations import DEFAULT as DEFAULT_SETTINGS
from tidings.domain.conversations import ConversationSettings
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import (
    MAX_SEQ,
    ConversationKey,
    ConversationKind,
    Identity,
    parse_conversation_id,
)
from tidings.domain.records import ConversationState, StoredMessage
from tidings.protocol.views import (
    ConversationView,
    EntryView,
    MessageView,
    conversation_view,
    message_view,
    reaction_summary,
)
from tidings.services.messaging.quotes import blank_recalled_quotes
from tidings.store.conversation_settings import ConversationSettingsStore
from tidings.store.first_sync import conversation_list, conversations_by_key, first_sync
from tidings.store.messages import Membership, MessageStore

if TYPE_CHECKING:
    from tidings.services.friends import Relations
    from tidings.store.reactions import Reactions, ReactionStore

# The most conversations a list asks for by id (``conversation_ids``).
MAX_CONVERSATION_IDS = 100
# A conversation's entries and their views, as decorate() takes them.
Page = tuple[int, ConversationKey, list[StoredMessage], Sequence[EntryView]]


class Reading:
    def __init__(self, store: MessageStore, max_page: int) -> None:
        self._store = store
        self.max_page = max_page
        self._relations: Relations | None = None
        self._settings: ConversationSettingsStore | None = None
        self._reactions: ReactionStore | None = None

    def bind(self, relations: Relations | None, settings: ConversationSettingsStore | None,
             reactions: ReactionStore | None) -> None:
        self._relations = relations
        self._settings = settings
        self._reactions = reactions

    # -- what reads share --------------------------------------------------

    def limit(self, limit: int | None, default: int = 50) -> int:
        if limit is None:
            return min(default, self.max_page)
        if limit < 0 or limit > self.max_page:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"limit must be between 0 and {self.max_page}")
        return limit

    async def member_of(self, me: Identity, key: ConversationKey) -> Membership | None:
        """The user's cursor; in a group, a refusal when not a member."""
        found = await self._store.membership(key, me.user_id)
        if found is None and key.kind is ConversationKind.GROUP:
            if await self._store.group_exists(key):
                raise TidingsError(ErrorCode.NOT_A_MEMBER, "you are not a member of this group")
            raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
        return found

    async def first_sync(self, me: Identity) -> tuple[
            list[ConversationState], dict[int, ConversationSettings], dict[int, int] | None]:
        """The conversations (without last messages), their settings and
        the peers' read cursors, read in one statement (store/first_sync.py)."""
        receipts = await self._receipts(me)
        found = await first_sync(self._store.db, me.sdkappid, me.user_id)
        return (found.states, found.settings if self._settings is not None else {},
                found.peer_reads if receipts else None)

    async def _receipts(self, me: Identity) -> bool:
        """Whether the user's app shows read receipts (the peers' cursors)."""
        return self._relations is not None and (
            await self._relations.rules(me.sdkappid)).read_receipts

    @property
    def shows_reactions(self) -> bool:
        """Whether read messages show their reactions (a reactions' store is
        bound): the reads that take them with their page (history's, sync's)."""
        return self._reactions is not None

    async def decorate(self, pages: Sequence[Page], reactions: Reactions | None = None) -> None:
        """History and sync show each message's reactions (live message
        events do not: a new message has none), and a reply's quote as
        recalled once the quoted message is. One reaction query for all the
        pages of a sync, none when the caller read them (``reactions``); one
        for the quoted messages' states, when there are quotes."""
        await blank_recalled_quotes(self._store, pages)
        if self._reactions is None:
            return
        found = reactions
        if found is None:
            wanted = [(conversation_id, v["seq"]) for conversation_id, _, _, views in pages
                      for v in views if v["kind"] == "message"]
            found = await self._reactions.of_messages(wanted) if wanted else {}
        for conversation_id, _, _, views in pages:
            for v in views:
                if v["kind"] == "message":
                    v["reactions"] = reaction_summary(found.get((conversation_id, v["seq"]),
                                                                []))

    # -- history and the conversation list --------------------------------------

    async def history_views(self, rows: list[StoredMessage],
                            viewers: list[str]) -> list[MessageView]:
        """Messages of any conversations, each as its viewer's history shows
        it (reactions; quotes of recalled messages blanked): search results."""
        views = [message_view(m, viewer) for m, viewer in zip(rows, viewers, strict=True)]
        await self.decorate([(m.conversation_id, m.key, [m], [v])
                             for m, v in zip(rows, views, strict=True)])
        return views

    async def history(self, me: Identity, conversation_id: str, *, before_seq: int | None,
                      limit: int | None) -> tuple[list[MessageView], bool]:
        """A page of messages older than ``before_seq`` (newest page when
        absent), in ascending seq order, and whether older ones remain."""
        key = parse_conversation_id(me, conversation_id)
        n = self.limit(limit)
        if before_seq is not None:
            # Same page, but within what the database's integers can hold.
            before_seq = max(0, min(before_seq, MAX_SEQ))
        # The membership, the cleared seq, the page and its reactions in one read.
        found, rows, reactions = await self._store.history_page(
            key, me.user_id, before_seq=before_seq, limit=n + 1 if n else 0,
            reactions=self.shows_reactions)
        if found is None:
            await self.member_of(me, key)  # a group's refusal
            return [], False
        more = len(rows) > n
        rows = rows[:n]
        rows.reverse()
        views = [message_view(m, me.user_id) for m in rows]
        await self.decorate([(found.conversation_id, key, rows, views)], reactions)
        return views, more

    async def history_around(self, me: Identity, conversation_id: str, *, seq: int,
                             limit: int | None) -> tuple[list[MessageView], bool, bool]:
        """A page of messages around ``seq`` (a search hit or a quoted
        message older than what a client holds): the message at ``seq``
        when there is one and the messages before it, half the page, then
        the ones after it, ascending; whether older ones remain and whether
        newer ones do."""
        key = parse_conversation_id(me, conversation_id)
        n = self.limit(limit)
        seq = max(0, min(seq, MAX_SEQ - 1))
        # Up to a page each way (the membership, the cleared seq and the
        # reactions with them, in one read), then half and half: a short
        # side leaves its room to the other (near the first message, or the last).
        found, older, newer, reactions = await self._store.history_around(
            key, me.user_id, seq=seq, limit=n + 1 if n else 0, reactions=self.shows_reactions)
        if found is None:
            await self.member_of(me, key)  # a group's refusal
            return [], False, False
        newer_n = min(len(newer), n - min(len(older), (n + 1) // 2))
        older_n = min(len(older), n - newer_n)  # the one at ``seq`` counts among them
        more, has_newer = len(older) > older_n, len(newer) > newer_n
        rows = older[:older_n][::-1] + newer[:newer_n]
        views = [message_view(m, me.user_id) for m in rows]
        await self.decorate([(found.conversation_id, key, rows, views)], reactions)
        return views, more, has_newer

    @staticmethod
    def conversation_keys(me: Identity, conversation_ids: Sequence[str]
                          ) -> list[ConversationKey]:
        """The keys of the conversations a list asks for by id: 1 to
        ``MAX_CONVERSATION_IDS`` ids, each a conversation id."""
        if not 1 <= len(conversation_ids) <= MAX_CONVERSATION_IDS:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"conversation_ids: 1 to {MAX_CONVERSATION_IDS} ids")
        return [parse_conversation_id(me, c) for c in conversation_ids]

    async def group_number(self, key: ConversationKey) -> int:
        """The internal number of a group's conversation (its msg ids' prefix)."""
        number = await self._store.conversation_number(key)
        if number is None:
            raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
        return number

    async def group_history(self, key: ConversationKey, *, before_seq: int | None,
                            limit: int | None) -> tuple[list[MessageView], bool]:
        """A page of a group's messages for the app's admin (all of them,
        whoever joined when), oldest first; 10010 for no such group."""
        n = self.limit(limit)
        number = await self._store.conversation_number(key)
        if number is None:
            raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
        if before_seq is not None:
            before_seq = max(0, min(before_seq, MAX_SEQ))
        rows = await self._store.page(number, key, before_seq=before_seq, limit=n + 1,
                                      newest_first=True, messages_only=True)
        more = len(rows) > n
        rows = rows[:n]
        rows.reverse()
        return [message_view(m, "") for m in rows], more

    async def conversations(self, me: Identity, limit: int | None,
                            conversation_ids: Sequence[str] | None = None
                            ) -> list[ConversationView]:
        """Pinned ones first, then by last activity; hidden ones left out.
        With ``conversation_ids`` (1 to 100): those of them the user is in,
        hidden ones included (asked for by id), ``limit`` not applied; each id
        is checked as anywhere else (10009 for a bad one), before any read."""
        if conversation_ids is not None:
            keys = self.conversation_keys(me, conversation_ids)
        n = self.limit(limit, 100)
        receipts = await self._receipts(me)
        # The first ``n`` conversations (or those asked for), their settings,
        # the peers' cursors and their last messages in one read.
        if conversation_ids is not None:
            found, last = await conversations_by_key(self._store.db, me.sdkappid, me.user_id,
                                                     keys)
        else:
            found, last = await conversation_list(self._store.db, me.sdkappid, me.user_id, n)
        reads = found.peer_reads if receipts else None
        return [conversation_view(replace(s, last_message=last.get(s.conversation_id)),
                                  me.user_id, found.settings.get(s.conversation_id,
                                                                 DEFAULT_SETTINGS), reads)
                for s in found.states]
