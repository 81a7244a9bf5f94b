"""Frames of the real-time protocol (docs/protocol.md): parsing, and the one
place where every frame is encoded.

A client frame is ``{"op": ..., "id": ..., "data": {...}}``; the server
answers ``{"re": id, "ok": true, "data": ...}`` or ``{"re": id, "ok": false,
"error": {...}}`` and pushes ``{"event": ..., "data": ...}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.records import Committed, StoredMessage
from tidings.protocol.events import EventName
from tidings.protocol.views import ack_view, message_view

RequestId = str | int | None
MAX_REQUEST_ID = 64
# A tuple, not ``str | int | None``: that expression makes a new union for
# every frame (~0.13 us).
_ID_TYPES = (str, int, type(None))

# The id of a frame that is not valid JSON, when it comes first (or right
# after a short "op"): ``{"id": 7, ...`` or ``{"op": "send", "id": "a1", ...``.
# Anchored, with no nested repetition and every repetition bounded, so it
# costs at most a few hundred steps whatever the frame; a string id with an
# escape in it is not recovered (its JSON value is not its text).
_LEADING_ID = re.compile(
    rb'\s{0,16}\{\s{0,16}(?:"op"\s{0,16}:\s{0,16}"[^"\\]{0,64}"\s{0,16},\s{0,16})?'
    rb'"id"\s{0,16}:\s{0,16}(?:(-?(?:0|[1-9][0-9]{0,17}))|"([^"\\]{0,%d})")'
    rb'\s{0,16}[,}]' % MAX_REQUEST_ID)


def leading_id(raw: str | bytes) -> RequestId:
    """The request id of a frame that could not be parsed, when it can be
    read safely from the frame's start (``_LEADING_ID``); else None."""
    head = raw[:512].encode(errors="replace") if isinstance(raw, str) else raw[:512]
    found = _LEADING_ID.match(head)
    if found is None:
        return None
    number, text = found.groups()
    if number is not None:
        return int(number)
    try:
        value = text.decode()
    except UnicodeDecodeError:
        return None
    return value if len(value) <= MAX_REQUEST_ID else None


def invalid(exc: ValidationError) -> TidingsError:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "data"
    # Tencent answers a bad MsgBody with its own code; so do we.
    code = (ErrorCode.INVALID_MESSAGE_BODY if first["loc"][:1] == ("elements",)
            else ErrorCode.INVALID_REQUEST)
    return TidingsError(code, f"{where}: {first['msg']}")


def parse_frame(raw: str | bytes) -> tuple[RequestId, str, dict[str, Any]]:
    """Split a frame into (request id, op, data). Raises with the request id
    when one could be read, so the error can still be matched."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(leading_id(raw), TidingsError(ErrorCode.MALFORMED_JSON,
                                            "frame is not valid JSON")) from exc
    if not isinstance(doc, dict):
        raise FrameError(None, TidingsError(ErrorCode.INVALID_REQUEST,
                                            "frame must be a JSON object"))
    req_id = doc.get("id")
    if isinstance(req_id, bool) or not isinstance(req_id, _ID_TYPES) or (
            isinstance(req_id, str) and len(req_id) > MAX_REQUEST_ID):
        raise FrameError(None, TidingsError(
            ErrorCode.INVALID_REQUEST, f"id must be a string of at most {MAX_REQUEST_ID} "
            "characters or an integer"))
    op = doc.get("op")
    if not isinstance(op, str):
        raise FrameError(req_id, TidingsError(ErrorCode.INVALID_REQUEST, "op must be a string"))
    data = doc.get("data", {})
    if not isinstance(data, dict):
        raise FrameError(req_id, TidingsError(ErrorCode.INVALID_REQUEST,
                                              "data must be a JSON object"))
    return req_id, op, data


class FrameError(Exception):
    def __init__(self, req_id: RequestId, error: TidingsError) -> None:
        super().__init__(error.message)
        self.req_id = req_id
        self.error = error


def ok(req_id: RequestId, data: Any) -> bytes:
    return orjson.dumps({"re": req_id, "ok": True, "data": data})


def ack(req_id: RequestId, committed: Committed) -> bytes:
    """A write's answer once stored: the bytes of ``ok(req_id,
    ack_view(committed))`` in one call, not two (one per message: issue 19)."""
    return orjson.dumps({"re": req_id, "ok": True, "data": ack_view(committed)})


def fail(req_id: RequestId, error: TidingsError) -> bytes:
    return orjson.dumps({"re": req_id, "ok": False, "error": error.to_dict()})


def event_frame(event: EventName, data: Mapping[str, Any]) -> bytes:
    """An event (its name is one of protocol.events.EVENTS: mypy checks)."""
    return orjson.dumps({"event": event, "data": data})


def message_event(msg: StoredMessage, viewer: str) -> bytes:
    """The live ``message`` event of ``msg`` as ``viewer`` sees it: the
    bytes of ``event_frame("message", message_view(msg, viewer))`` in one
    call, not three (the commit hook renders one per member: issue 19)."""
    return orjson.dumps({"event": "message", "data": message_view(msg, viewer)})
