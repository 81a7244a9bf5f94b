"""Message search over REST: ``GET /v1/search`` (the caller's view) and
``GET /v1/admin/search`` (an app's admin: one user's view, or the whole app)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, ValidationError

from tidings.api.admin import Admin
from tidings.api.auth import runtime_of
from tidings.api.client import Me
from tidings.api.models import ErrorOut, MessageOut
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.search import SearchIn

router = api_router(prefix="/v1", tags=["client"])
admin_router = api_router(prefix="/v1/admin", tags=["admin"],
                         responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


class SearchResultOut(BaseModel):
    conversation_id: str
    # The message as history shows it (reactions included).
    message: MessageOut
    # A piece of the message's searchable text around the first match, and
    # where each term matches in it ([start, end) character offsets).
    snippet: str
    highlights: list[list[int]]


class SearchOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "results": [{"conversation_id": "group_trip", "message": {
            "kind": "message", "msg_id": "41-7", "conversation_id": "group_trip", "seq": 7,
            "sender": "bob", "client_msg_id": "9b1c2f80-0007",
            "elements": [{"type": "text", "text": "dinner in 北京 at eight"}],
            "cloud_custom_data": "", "time": 1795310000123, "state": "normal",
            "edited_at": None, "change_seq": 0, "imported": None, "reactions": []},
            "snippet": "dinner in 北京 at eight", "highlights": [[0, 6], [10, 12]]}],
        "more": True, "cursor": "1795310000123.41.7"}]}}

    results: list[SearchResultOut]
    more: bool
    # Pass it back as ``cursor`` for the next (older) page; null on the last.
    cursor: str | None


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "10002: empty, oversize or unusable query, "
                                            "bad cursor, limit or time; 10008 bad sender; "
                                            "10009 bad conversation id"},
    403: {"model": ErrorOut, "description": "10011: not a member of that group"},
    404: {"model": ErrorOut, "description": "10010: no such group"},
}


def _search_in(q: str, conversation_id: str | None, sender: str | None, since: int | None,
               until: int | None, cursor: str | None, limit: int | None) -> SearchIn:
    try:
        return SearchIn(q=q, conversation_id=conversation_id, sender=sender, since=since,
                        until=until, cursor=cursor, limit=limit)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "query"
        raise TidingsError(ErrorCode.INVALID_REQUEST, f"{where}: {first['msg']}") from exc


Q = Annotated[str, Query(description="words to find: each must occur in the message's "
                                     "text, ignoring case (docs/search.md)")]
Conv = Annotated[str | None, Query(description="only this conversation ('c2c_bob', "
                                               "'group_trip')")]
Sender = Annotated[str | None, Query(description="only messages this user sent")]
Since = Annotated[int | None, Query(description="time >= since (ms)")]
Until = Annotated[int | None, Query(description="time < until (ms)")]
CursorQ = Annotated[str | None, Query(description="the cursor of the previous page")]
Limit = Annotated[int | None, Query(description="results per page (default 20)")]


@router.get("/search", response_model=SearchOut, responses=_ERRORS)
async def search(request: Request, me: Me, q: Q, conversation_id: Conv = None,
                 sender: Sender = None, since: Since = None, until: Until = None,
                 cursor: CursorQ = None, limit: Limit = None) -> JSON:
    """Search the messages of the caller's conversations, newest first: the
    one-to-one conversations and the groups the caller is in, as far as the
    caller's history reaches (a group from the caller's join, unless it
    shows history to newcomers; nothing the caller cleared). Recalled
    messages are never found; edited ones by their new text."""
    return JSON(await runtime_of(request).search.search(
        me, _search_in(q, conversation_id, sender, since, until, cursor, limit)))


@admin_router.get("/search", response_model=SearchOut, responses=_ERRORS)
async def admin_search(request: Request, admin: Admin, q: Q,
                       user_id: Annotated[str | None, Query(
                           description="search as this user sees it; absent: the whole "
                                       "app")] = None,
                       conversation_id: Conv = None, sender: Sender = None,
                       since: Since = None, until: Until = None, cursor: CursorQ = None,
                       limit: Limit = None) -> JSON:
    """Search the app's messages: as ``user_id`` sees them (exactly
    ``GET /v1/search`` for that user), or every message of the app. Without
    ``user_id``, ``conversation_id`` can only name a group, and a
    one-to-one result's ``conversation_id`` is named from its sender's side."""
    return JSON(await runtime_of(request).search.admin_search(
        admin.sdkappid, user_id,
        _search_in(q, conversation_id, sender, since, until, cursor, limit)))
