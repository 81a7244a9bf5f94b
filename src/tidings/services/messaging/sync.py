"""Catch-up sync: what a device missed while it was away, across all the
user's conversations, planned first (seqs are dense, so each
conversation's count of new entries is known) and then read in a few
queries, within a budget of entries and bytes per answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tidings.domain.conversations import DEFAULT as DEFAULT_SETTINGS
from tidings.domain.ids import Identity
from tidings.domain.records import StoredMessage
from tidings.protocol.views import ConversationView, EntryView, conversation_view, entry_view
from tidings.services.messaging.reading import Page, Reading
from tidings.store.messages import MessageStore, PageRange


def _entry_bytes(entry: StoredMessage) -> int:
    """About what an entry weighs in a sync answer."""
    size = len(entry.elements) + len(entry.cloud_custom_data) + 256
    if entry.target is not None:
        size += _entry_bytes(entry.target)
    return size


@dataclass(slots=True)
class SyncResult:
    messages: list[EntryView]
    conversations: list[ConversationView]
    more: bool
    # conversation id -> the last seq the answer covers; live frames at or
    # below it were already in the answer.
    covered: dict[int, int] = field(default_factory=dict)


class Sync:
    def __init__(self, store: MessageStore, reading: Reading, *, max_page: int,
                 max_sync_bytes: int) -> None:
        self._store = store
        self._reading = reading
        self.max_page = max_page
        self._max_sync_bytes = max_sync_bytes

    async def sync(self, me: Identity, known: Mapping[str, int], limit: int | None
                   ) -> SyncResult:
        """What a device missed: for each conversation it names in ``known``,
        every message after the seq it names there, a page (``max_page``) at a
        time with ``more`` set while any remain; for a conversation it does not
        name, only the newest ``limit`` (older ones are there through history)."""
        tail = self._reading.limit(limit, 20)
        budget = self.max_page * 5
        bytes_left = self._max_sync_bytes
        # One statement (on PostgreSQL one round trip, not three in turn).
        states, prefs, reads = await self._reading.first_sync(me)
        result = SyncResult([], [], more=False)
        # First plan what to read (seqs are dense, so each conversation's
        # count of new entries is known), then read it all in a few queries.
        plan: list[PageRange] = []
        for state in states:
            name = state.key.id_for(me.user_id)
            mine = prefs.get(state.conversation_id, DEFAULT_SETTINGS)
            result.conversations.append(conversation_view(state, me.user_id, mine, reads))
            have = known.get(name)
            # A negative seq means "from the start"; huge ones never reach SQL.
            after = max(0, state.last_seq - tail) if have is None else max(0, have)
            # From the member's join (groups), and a cleared history stays cleared.
            after = max(after, state.visible_after, mine.cleared_seq)
            if after >= state.last_seq:
                result.covered[state.conversation_id] = state.last_seq
                continue
            if budget <= 0:
                result.more = True
                continue
            take = min(self.max_page, budget, state.last_seq - after)
            budget -= take
            plan.append(PageRange(state.conversation_id, state.key, after, state.last_seq,
                                  take))
        # The pages and their reactions in one read.
        fetched, reactions = await self._store.pages(plan,
                                                     reactions=self._reading.shows_reactions)
        pages: list[Page] = []
        for planned in plan:
            if bytes_left <= 0:
                result.more = True
                continue
            rows = fetched[planned.conversation_id]
            kept = 0
            for m in rows:
                # Always some progress: the first entry goes in whatever its size.
                if bytes_left <= 0 and (kept or result.messages):
                    break
                bytes_left -= _entry_bytes(m)
                kept += 1
            rows = rows[:kept]
            views = [entry_view(m, me.user_id) for m in rows]
            pages.append((planned.conversation_id, planned.key, rows, views))
            result.messages.extend(views)
            if rows and rows[-1].seq < planned.up_to_seq:
                result.more = True
            else:
                result.covered[planned.conversation_id] = planned.up_to_seq
        await self._reading.decorate(pages, reactions)
        return result
