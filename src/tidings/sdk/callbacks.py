"""Checking that a callback request came from Tidings (for the app's server).

Native format: the ``X-Tidings-Signature`` header is
``t=<unix seconds>,v1=<hex HMAC-SHA256(token, "<t>." + raw body)>``::

    from tidings.sdk import verify_callback
    event = verify_callback(TOKEN, request_body_bytes, request.headers["X-Tidings-Signature"])
    # event == {"event": "after_send", "sdkappid": ..., "time": ..., "event_id": ..., "data": {...}}

It refuses a signature older or newer than ``tolerance`` seconds (300 by
default: the replay window), so a recorded request cannot be replayed later.
Within the window, remember the ``event_id`` of what you processed: an
after-callback is resent until acknowledged, so the same event can come twice.

Tencent format: ``Sign`` in the query string is ``hex(sha256(token +
RequestTime))``; :func:`verify_tencent_sign` checks it and the same window.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import orjson

DEFAULT_TOLERANCE = 300


class CallbackSignatureError(ValueError):
    """The request was not signed with this token, or not recently."""


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            macs.append(value)
    if timestamp is None or not macs:
        raise CallbackSignatureError("malformed signature header")
    return timestamp, macs


def _fresh(timestamp: int, tolerance: float, now: float | None) -> None:
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise CallbackSignatureError(f"signed {int(current - timestamp)} s away from now; "
                                     f"outside the {tolerance} s window")


def verify_callback(token: str, body: bytes, signature: str, *,
                    tolerance: float = DEFAULT_TOLERANCE,
                    now: float | None = None) -> dict[str, Any]:
    """The callback's JSON document, once its signature is checked; else
    CallbackSignatureError. ``body`` must be the raw bytes received."""
    timestamp, macs = _parse(signature)
    expected = hmac.new(token.encode(), str(timestamp).encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, mac) for mac in macs):
        raise CallbackSignatureError("signature does not match")
    _fresh(timestamp, tolerance, now)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CallbackSignatureError("the body is not JSON") from exc
    if not isinstance(doc, dict):
        raise CallbackSignatureError("the body is not a JSON object")
    return doc


def verify_tencent_sign(token: str, request_time: str | int, sign: str, *,
                        tolerance: float = DEFAULT_TOLERANCE, now: float | None = None) -> None:
    """Check a Tencent-format request's ``Sign`` and ``RequestTime`` query values."""
    text = str(request_time)
    if not text.isdigit():
        raise CallbackSignatureError("RequestTime is not a number")
    expected = hashlib.sha256(f"{token}{text}".encode()).hexdigest()
    if not hmac.compare_digest(expected, sign.lower()):
        raise CallbackSignatureError("Sign does not match")
    _fresh(int(text), tolerance, now)
