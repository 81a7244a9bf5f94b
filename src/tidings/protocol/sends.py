"""A ``send``'s data read without pydantic when it is plainly valid (issue 19,
bench/journal/perf-send.md, "a send's validation and the recent acks").

Most sends are a few text elements and the ids: checked here by hand, and
their elements written with orjson in the order pydantic writes them, so the
stored JSON is byte for byte what ``SendRequest.elements_json()`` gives (a
test holds the two together). Anything else (another element kind, push
options, any field in doubt, any error) goes to ``SendRequest`` itself: the
errors, their codes and their wording stay pydantic's, and the JSON Schema
stays ``SendRequest``'s.

The data comes from ``orjson.loads`` (protocol.frames.parse_frame), which
never yields a lone surrogate; pydantic refuses one in any string
(string_unicode), this path only in the elements (orjson will not write it)."""

from __future__ import annotations

from typing import Any

import orjson

from tidings.domain.elements import MAX_ELEMENTS
from tidings.domain.push import PushOptions
from tidings.domain.requests import SendRequest

# SendRequest's limits (its Field(...)s); the fast path only takes what is
# within them, so it never has to word a refusal.
_MAX_CONVERSATION_ID = 128
_MAX_CLIENT_MSG_ID = 64
_MAX_MENTIONS = 100
_FIELDS = frozenset(("conversation_id", "client_msg_id", "elements", "cloud_custom_data",
                     "mentions", "offline_push"))


class SendData:
    """What the gateway's ``send`` hands on: the request's fields, and its
    elements as the JSON that is stored."""

    __slots__ = ("client_msg_id", "cloud_custom_data", "conversation_id", "elements",
                 "mentions", "offline_push")

    def __init__(self, conversation_id: str, client_msg_id: str, elements: bytes,
                 cloud_custom_data: str, mentions: list[str],
                 offline_push: PushOptions | None) -> None:
        self.conversation_id = conversation_id
        self.client_msg_id = client_msg_id
        self.elements = elements
        self.cloud_custom_data = cloud_custom_data
        self.mentions = mentions
        self.offline_push = offline_push


def parse_send(data: dict[str, Any]) -> SendData:
    """A ``send``'s data, checked as ``SendRequest`` checks it (raises its
    ValidationError for anything it refuses).

    The plain send (text elements only, no push options) is read here, in
    this one function (it runs for every message: issue 19); anything else
    goes to pydantic. ``type(x) is str``: strict mode takes no other type,
    and a str subclass is left to pydantic. The text elements are written
    in TextElement's field order (type, text): the client's own dicts as
    they are when their keys come in that order (the usual case)."""
    conversation_id = data.get("conversation_id")
    client_msg_id = data.get("client_msg_id")
    custom = data.get("cloud_custom_data", "")
    mentions = data.get("mentions", [])
    elements = data.get("elements")
    if (_FIELDS.issuperset(data)
            and type(conversation_id) is str and len(conversation_id) <= _MAX_CONVERSATION_ID
            and type(client_msg_id) is str and 0 < len(client_msg_id) <= _MAX_CLIENT_MSG_ID
            and type(custom) is str and data.get("offline_push") is None
            and type(mentions) is list and len(mentions) <= _MAX_MENTIONS
            and (not mentions or all(type(m) is str for m in mentions))
            and type(elements) is list and 0 < len(elements) <= MAX_ELEMENTS):
        reordered = False
        for element in elements:
            if type(element) is not dict or len(element) != 2:
                break
            text = element.get("text")
            if element.get("type") != "text" or type(text) is not str or not text:
                break
            reordered = reordered or next(iter(element)) != "type"
        else:
            if reordered:
                elements = [{"type": "text", "text": e["text"]} for e in elements]
            try:
                return SendData(conversation_id, client_msg_id, orjson.dumps(elements),
                                custom, mentions, None)
            except orjson.JSONEncodeError:
                pass  # a lone surrogate: pydantic words the refusal
    r = SendRequest.model_validate(data)
    return SendData(r.conversation_id, r.client_msg_id, r.elements_json(),
                    r.cloud_custom_data, r.mentions, r.offline_push)
