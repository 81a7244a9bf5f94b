"""Message search: a user searches what their history shows them (their
one-to-one conversations and the groups they are in, from their join point,
not what they cleared); an app's admin searches as one user or the whole
app. Results come newest first, a page at a time, each with the message as
history shows it and a snippet around the match."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import ConversationKind, Identity, check_user_id, parse_conversation_id
from tidings.domain.records import StoredMessage
from tidings.domain.search import MAX_INT, SearchIn, highlight, parse_cursor, parse_query
from tidings.protocol.views import MessageView
from tidings.services.messaging import MessagingService
from tidings.store.messages import MessageStore
from tidings.store.search import SearchScope, SearchStore

DEFAULT_LIMIT = 20


def _time(value: int | None, name: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_INT:
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"{name}: a time in ms since the epoch")
    return value


class SearchService:
    def __init__(self, store: SearchStore, messages: MessageStore,
                 messaging: MessagingService) -> None:
        self._store = store
        self._messages = messages
        self._messaging = messaging

    async def search(self, me: Identity, request: SearchIn) -> dict[str, Any]:
        """Search the messages ``me`` can see in their history."""
        scope = self._scope(me.sdkappid, me.user_id, request)
        if request.conversation_id is not None:
            key = parse_conversation_id(me, request.conversation_id)
            found = await self._messages.membership(key, me.user_id)
            if found is None:
                if key.kind is ConversationKind.GROUP:
                    if await self._messages.group_exists(key):
                        raise TidingsError(ErrorCode.NOT_A_MEMBER,
                                           "you are not a member of this group")
                    raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
                # Nothing was said there yet: nothing to find, as history says.
                return {"results": [], "more": False, "cursor": None}
            scope = replace(scope, conversation_id=found.conversation_id)
        return await self._page(scope, request.limit, me.user_id)

    async def admin_search(self, sdkappid: int, user_id: str | None,
                           request: SearchIn) -> dict[str, Any]:
        """As ``user_id`` sees it, or (None) every message of the app."""
        if user_id is not None:
            try:
                user = Identity(sdkappid, check_user_id(user_id))
            except TidingsError as exc:
                raise TidingsError(exc.code, f"user_id: {exc.message}") from exc
            return await self.search(user, request)
        scope = self._scope(sdkappid, None, request)
        if request.conversation_id is not None:
            if not request.conversation_id.startswith("group_"):
                raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                                   "without user_id, conversation_id names a group "
                                   "('group_<id>'); a one-to-one one needs user_id")
            key = parse_conversation_id(Identity(sdkappid, ""), request.conversation_id)
            number = await self._messages.conversation_number(key)
            if number is None:
                raise TidingsError(ErrorCode.NOT_FOUND, f"no group {key.a!r}")
            scope = replace(scope, conversation_id=number)
        return await self._page(scope, request.limit, None)

    def _scope(self, sdkappid: int, viewer: str | None, r: SearchIn) -> SearchScope:
        sender = None
        if r.sender is not None:
            try:
                sender = check_user_id(r.sender)
            except TidingsError as exc:
                raise TidingsError(exc.code, f"sender: {exc.message}") from exc
        since, until = _time(r.since, "since"), _time(r.until, "until")
        return SearchScope(sdkappid, viewer, parse_query(r.q), sender=sender, since=since,
                           until=until, cursor=parse_cursor(r.cursor))

    def _limit(self, limit: int | None) -> int:
        top = self._messaging.max_page
        if limit is None:
            return min(DEFAULT_LIMIT, top)
        if not 1 <= limit <= top:
            raise TidingsError(ErrorCode.INVALID_REQUEST, f"limit must be between 1 and {top}")
        return limit

    async def _page(self, scope: SearchScope, limit: int | None,
                    viewer: str | None) -> dict[str, Any]:
        n = self._limit(limit)
        found = await self._store.search(scope, n + 1)
        more = len(found) > n
        found = found[:n]
        views = await self._views([f.message for f in found], viewer)
        results = []
        for f, view in zip(found, views, strict=True):
            results.append({"conversation_id": view["conversation_id"], "message": view,
                            **highlight(f.message.elements, scope.query)})
        return {"results": results, "more": more,
                "cursor": found[-1].cursor.encode() if more else None}

    async def _views(self, rows: list[StoredMessage],
                     viewer: str | None) -> list[MessageView]:
        """Each as history shows it; the whole app's view names a one-to-one
        conversation from its sender's side."""
        return await self._messaging.history_views(
            rows, [m.sender if viewer is None else viewer for m in rows])
