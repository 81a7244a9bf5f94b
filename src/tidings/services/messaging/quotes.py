"""A reply's quote of an earlier message: filled in from the quoted message
when the reply is sent (its sender, msg id, text and state as they stand
then), and shown as recalled in history and sync once the quoted message is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tidings.domain.elements import EntryKind, MessageState
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import ConversationKey
from tidings.domain.records import NewMessage, StoredMessage
from tidings.protocol.views import STATES, EntryView, MessageView
from tidings.store.messages import MessageStore

# Normalized elements JSON is compact: a reply's quote shows as this.
QUOTE_MARK = '"type":"quote"'
QUOTE_MARK_BYTES = QUOTE_MARK.encode()
MAX_QUOTE_TEXT = 200


def quote_text(msg: StoredMessage) -> str:
    """What a reply shows of the quoted message: its text, else its kind."""
    if msg.state == MessageState.RECALLED:
        return ""
    elements = orjson.loads(msg.elements)
    text = "".join(str(e.get("text", "")) for e in elements if e.get("type") == "text")
    if not text and elements:
        text = f"[{elements[0].get('type', '')}]"
    return text[:MAX_QUOTE_TEXT]


async def resolve_quote(store: MessageStore, request: NewMessage) -> str:
    """Fill in a reply's quote from the quoted message as it stands now."""
    elements = orjson.loads(request.elements)
    quotes = [e for e in elements if e.get("type") == "quote"]
    if len(quotes) != 1:
        raise TidingsError(ErrorCode.INVALID_MESSAGE_BODY,
                           "elements: a reply quotes exactly one message")
    quote = quotes[0]
    seq = int(quote["seq"])
    found = await store.membership(request.key, request.sender)
    rows = [] if found is None else await store.page(
        found.conversation_id, request.key, after_seq=seq - 1, up_to_seq=seq, limit=1)
    if not rows or rows[0].kind != EntryKind.MESSAGE:
        raise TidingsError(ErrorCode.MESSAGE_NOT_FOUND,
                           f"the quoted message: no message with seq {seq} in this "
                           "conversation")
    target = rows[0]
    quote.update(msg_id=target.msg_id, sender=target.sender, text=quote_text(target),
                 state=STATES[target.state])
    return orjson.dumps(elements).decode()


async def blank_recalled_quotes(
        store: MessageStore,
        pages: Sequence[tuple[int, ConversationKey, list[StoredMessage], Sequence[EntryView]]]
) -> None:
    """Show as recalled the quotes (in the pages' views) of messages
    recalled since: the quoted messages' states of all the pages (a sync's,
    a history page) in one read (it was a read per quoted message)."""
    shown: list[tuple[int, MessageView, list[dict[str, Any]], list[dict[str, Any]]]] = []
    wanted: set[tuple[int, int]] = set()
    for conversation_id, _, rows, views in pages:
        for row, view in zip(rows, views, strict=True):
            if view["kind"] != "message" or row.kind or QUOTE_MARK not in row.elements:
                continue
            elements = orjson.loads(row.elements)
            quotes = [q for q in elements
                      if q.get("type") == "quote" and q.get("state") != "recalled"]
            if quotes:
                shown.append((conversation_id, view, elements, quotes))
                wanted.update((conversation_id, int(q["seq"])) for q in quotes)
    if not wanted:
        return
    states = await store.states_of(sorted(wanted))
    for conversation_id, view, elements, quotes in shown:
        recalled = [q for q in quotes
                    if states.get((conversation_id, int(q["seq"]))) == MessageState.RECALLED]
        for quote in recalled:
            quote.update(text="", state="recalled")
        if recalled:
            view["elements"] = orjson.Fragment(orjson.dumps(elements))
