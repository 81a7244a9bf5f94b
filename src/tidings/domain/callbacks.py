"""Callbacks to an app's server: settings, events, the two wire formats, the
signatures, and how an answer is read. Pure: no I/O (docs/callbacks.md).

An event is a name (``after_send``) and a ``data`` object in the native shape.
The native format posts ``{"event", "sdkappid", "time", "event_id", "data"}``
signed in a header; the Tencent format posts Tencent Cloud IM's body for the
same event (``C2C.CallbackAfterSendMsg``, ...) with Tencent's query string.
A feature adds an event with :func:`register_event` (its name, its Tencent
command and how its Tencent body is made) and queues it with
``CallbackService.enqueue``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from pydantic import ValidationError

from tidings.domain.elements import ELEMENTS
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.tencent_msgbody import from_msgbody, to_msgbody, v4_random

SIGNATURE_HEADER = "X-Tidings-Signature"
EVENT_HEADER = "X-Tidings-Event"
EVENT_ID_HEADER = "X-Tidings-Event-Id"
# What an app should accept between the signature's time and its own clock.
REPLAY_WINDOW = 300

MAX_URL = 2048
MIN_TOKEN, MAX_TOKEN = 8, 128
MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS = 100, 10_000, 2000
MAX_ANSWER_BYTES = 64 * 1024
# What became of a queued callback (or a test event): its delivery status.
PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
STATUSES = (PENDING, DELIVERED, FAILED, SKIPPED)
MAX_APP_MESSAGE = 512
# Tencent: an ErrorCode in this range rejects the message with that code.
TENCENT_APP_CODES = range(120001, 130001)


class CallbackFormat(StrEnum):
    NATIVE = "native"
    TENCENT = "tencent"


class FailurePolicy(StrEnum):
    ALLOW = "allow"   # a before-callback that fails lets the message through
    BLOCK = "block"   # ... or refuses it (50004)


class Event:
    """The events this version sends (plain strings: they go into JSON and SQL)."""

    BEFORE_SEND = "before_send"
    AFTER_SEND = "after_send"
    AFTER_READ = "after_read"
    AFTER_RECALL = "after_recall"
    STATE_CHANGE = "state_change"
    TEST = "test"


# -- events and their Tencent shapes ----------------------------------------------

TencentRender = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EventKind:
    name: str
    tencent_command: str
    tencent_body: TencentRender
    # Switchable per app; the test event is always sent.
    switchable: bool = True


EVENTS: dict[str, EventKind] = {}


def register_event(name: str, tencent_command: str, tencent_body: TencentRender, *,
                   switchable: bool = True) -> None:
    """Make an event known (later features: after recall, group and friend events)."""
    EVENTS[name] = EventKind(name, tencent_command, tencent_body, switchable)


def switchable_events() -> list[str]:
    return [name for name, kind in EVENTS.items() if kind.switchable]


def msg_random(client_msg_id: str) -> int:
    """Tencent's MsgRandom for one of our messages: the sender's own, for a
    message sent through the v4 API; else stable per client message id."""
    given = v4_random(client_msg_id)
    return zlib.crc32(client_msg_id.encode()) if given is None else given


def _c2c_message(data: Mapping[str, Any]) -> dict[str, Any]:
    seq = int(data.get("seq", 0))
    time_s = int(data.get("time", 0)) // 1000
    random = msg_random(str(data["client_msg_id"]))
    return {
        "From_Account": data["from"], "To_Account": data["to"],
        "MsgSeq": seq, "MsgRandom": random, "MsgTime": time_s,
        "MsgKey": f"{seq}_{random}_{time_s}", "MsgId": data["client_msg_id"],
        "OnlineOnlyFlag": 0,
        "MsgBody": to_msgbody(data["elements"]),
        "CloudCustomData": data.get("cloud_custom_data", ""),
    }


def _after_send(data: Mapping[str, Any]) -> dict[str, Any]:
    return {**_c2c_message(data), "SendMsgResult": 0, "ErrorInfo": "send msg succeed",
            "EventTime": data.get("time", 0)}


def _after_read(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"Report_Account": data["user_id"], "Peer_Account": data["peer"],
            "LastReadTime": int(data["time"]) // 1000, "UnreadMsgNum": data["total_unread"],
            "EventTime": data["time"]}


def _after_recall(data: Mapping[str, Any]) -> dict[str, Any]:
    # Tencent's body also has UnreadMsgNum; we leave it out rather than guess.
    return {"From_Account": data["from"], "To_Account": data["to"], "MsgKey": data["msg_id"],
            "MsgSeq": data["seq"], "EventTime": data["time"]}


def _state_change(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"EventTime": data["time"],
            "Info": {"Action": str(data["action"]).capitalize(), "To_Account": data["user_id"],
                     "Reason": data["reason"]}}


def _test(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"EventTime": data["time"], "Text": data.get("text", "")}


register_event(Event.BEFORE_SEND, "C2C.CallbackBeforeSendMsg", _c2c_message)
register_event(Event.AFTER_SEND, "C2C.CallbackAfterSendMsg", _after_send)
register_event(Event.AFTER_READ, "C2C.CallbackAfterMsgReport", _after_read)
register_event(Event.AFTER_RECALL, "C2C.CallbackAfterMsgWithDraw", _after_recall)
register_event(Event.STATE_CHANGE, "State.StateChange", _state_change)
register_event(Event.TEST, "Tidings.CallbackTest", _test, switchable=False)


def message_data(sender: str, peer: str, client_msg_id: str, elements_json: str | bytes,
                 cloud_custom_data: str, platform: str, client_ip: str, *, msg_id: str = "",
                 seq: int = 0, time: int = 0) -> bytes:
    """The native ``data`` of a one-to-one message event, as JSON. Before
    send it has no ``msg_id``, ``seq`` or ``time`` yet (empty, 0, 0)."""
    return orjson.dumps({
        "from": sender, "to": peer, "conversation_id": f"c2c_{peer}",
        "client_msg_id": client_msg_id, "msg_id": msg_id, "seq": seq, "time": time,
        "elements": orjson.Fragment(elements_json), "cloud_custom_data": cloud_custom_data,
        "platform": platform, "client_ip": client_ip})


# -- settings ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    sdkappid: int
    url: str
    token: str
    format: CallbackFormat = CallbackFormat.NATIVE
    # Events switched off. Everything else is on once a URL is set, events
    # added by later versions included.
    disabled: frozenset[str] = field(default_factory=frozenset)
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    failure_policy: FailurePolicy = FailurePolicy.ALLOW
    updated_at: int = 0

    def enabled(self, event: str) -> bool:
        return event not in self.disabled

    @property
    def timeout(self) -> float:
        return self.timeout_ms / 1000

    def view(self) -> dict[str, Any]:
        return {"url": self.url, "token": self.token, "format": self.format.value,
                "events": {name: self.enabled(name) for name in switchable_events()},
                "timeout_ms": self.timeout_ms, "failure_policy": self.failure_policy.value,
                "updated_at": self.updated_at}


def _invalid(message: str) -> TidingsError:
    return TidingsError(ErrorCode.INVALID_REQUEST, message)


def check_url(url: object) -> str:
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise _invalid(f"url: 1 to {MAX_URL} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise _invalid("url: no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _invalid(f"url: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("url: must be an http:// or https:// URL with a host")
    if parts.fragment or (port is not None and port == 0):
        raise _invalid("url: no fragment, no port 0")
    return url


def check_token(token: object) -> str:
    if not isinstance(token, str) or not MIN_TOKEN <= len(token) <= MAX_TOKEN:
        raise _invalid(f"token: {MIN_TOKEN} to {MAX_TOKEN} characters")
    if not all(33 <= ord(c) <= 126 for c in token):
        raise _invalid("token: printable ASCII without spaces")
    return token


def check_timeout(timeout_ms: object) -> int:
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or not (
            MIN_TIMEOUT_MS <= timeout_ms <= MAX_TIMEOUT_MS):
        raise _invalid(f"timeout_ms: an integer from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}")
    return timeout_ms


def check_format(value: object) -> CallbackFormat:
    try:
        return CallbackFormat(str(value))
    except ValueError:
        raise _invalid("format: 'native' or 'tencent'") from None


def check_policy(value: object) -> FailurePolicy:
    try:
        return FailurePolicy(str(value))
    except ValueError:
        raise _invalid("failure_policy: 'allow' or 'block'") from None


def check_events(names: Iterable[object], where: str = "events") -> list[str]:
    known = switchable_events()
    out = []
    for name in names:
        if name not in known:
            raise _invalid(f"{where}: unknown event {name!r}; one of {', '.join(known)}")
        out.append(str(name))
    return out


# -- signatures --------------------------------------------------------------------


def native_signature(token: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(token, "<t>." + body)>``."""
    mac = hmac.new(token.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def tencent_sign(token: str, request_time: int) -> str:
    """Tencent's ``Sign``: hex SHA-256 of the token followed by RequestTime."""
    return hashlib.sha256(f"{token}{request_time}".encode()).hexdigest()


# -- requests ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outgoing:
    url: str
    headers: dict[str, str]
    body: bytes


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


def tencent_body(event: str, data: Mapping[str, Any]) -> dict[str, Any]:
    kind = EVENTS.get(event)
    if kind is None:
        return {"CallbackCommand": f"Tidings.{event}", **data}
    return {"CallbackCommand": kind.tencent_command, **kind.tencent_body(data)}


def build_request(settings: CallbackSettings, event: str, event_id: str, event_time: int,
                  data: Mapping[str, Any], now_s: int, user_agent: str) -> Outgoing:
    """The HTTP request for one event in the app's format, signed at ``now_s``."""
    headers = {"Content-Type": "application/json", "User-Agent": user_agent}
    if settings.format is CallbackFormat.TENCENT:
        body = orjson.dumps(tencent_body(event, data))
        kind = EVENTS.get(event)
        params = {
            "SdkAppid": str(settings.sdkappid),
            "CallbackCommand": kind.tencent_command if kind else f"Tidings.{event}",
            "contenttype": "json",
            "ClientIP": str(data.get("client_ip", "")),
            "OptPlatform": str(data.get("platform", "")) or "Unknown",
            "Sign": tencent_sign(settings.token, now_s),
            "RequestTime": str(now_s),
        }
        return Outgoing(_with_query(settings.url, params), headers, body)
    body = orjson.dumps({"event": event, "sdkappid": settings.sdkappid, "time": event_time,
                         "event_id": event_id, "data": data})
    headers[SIGNATURE_HEADER] = native_signature(settings.token, now_s, body)
    headers[EVENT_HEADER] = event
    headers[EVENT_ID_HEADER] = event_id
    return Outgoing(settings.url, headers, body)


# -- answers -----------------------------------------------------------------------


class CallbackFailure(Exception):
    """The app server did not answer usefully: timeout, connection error,
    redirect, an HTTP error, or a body we cannot read."""


class Action(StrEnum):
    ALLOW = "allow"
    REJECT = "reject"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    # Rewrites (allow only): the new elements (normalized JSON) and custom data.
    elements_json: bytes | None = None
    cloud_custom_data: str | None = None
    # Reject only: the app's own code and text for the sender.
    app_code: int | None = None
    app_message: str = ""


ALLOW = Decision(Action.ALLOW)


def _json_object(status: int, body: bytes) -> dict[str, Any]:
    if 300 <= status < 400:
        raise CallbackFailure(f"redirect (HTTP {status}); callbacks do not follow redirects")
    if not 200 <= status < 300:
        raise CallbackFailure(f"HTTP {status}")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise CallbackFailure("the answer is not JSON") from None
    if not isinstance(doc, dict):
        raise CallbackFailure("the answer is not a JSON object")
    return doc


def acknowledged(status: int, body: bytes) -> None:
    """An after-callback is delivered once the app answers 2xx with a JSON
    object (its contents are not looked at, as Tencent ignores them too)."""
    _json_object(status, body)


def _rewrite_elements(value: object, tencent: bool) -> bytes:
    try:
        if tencent:
            return ELEMENTS.dump_json(from_msgbody(value))
        return ELEMENTS.dump_json(ELEMENTS.validate_python(value))
    except (TidingsError, ValidationError) as exc:
        raise CallbackFailure(f"the rewritten message is invalid: {exc}") from None


def _app_text(value: object) -> str:
    return value[:MAX_APP_MESSAGE] if isinstance(value, str) else ""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_before_send(fmt: CallbackFormat, status: int, body: bytes) -> Decision:
    """What the app decided about a message, or CallbackFailure."""
    doc = _json_object(status, body)
    if fmt is CallbackFormat.TENCENT:
        code = doc.get("ErrorCode")
        if not _is_int(code):
            raise CallbackFailure("the answer has no integer ErrorCode")
        if code == 0:
            elements = custom = None
            if doc.get("MsgBody") is not None:
                elements = _rewrite_elements(doc["MsgBody"], tencent=True)
            if doc.get("CloudCustomData") is not None:
                if not isinstance(doc["CloudCustomData"], str):
                    raise CallbackFailure("CloudCustomData must be a string")
                custom = doc["CloudCustomData"]
            return Decision(Action.ALLOW, elements, custom)
        if code == 1:
            return Decision(Action.REJECT, app_message=_app_text(doc.get("ErrorInfo")))
        if code == 2:
            return Decision(Action.DROP)
        if code in TENCENT_APP_CODES:
            return Decision(Action.REJECT, app_code=code,
                            app_message=_app_text(doc.get("ErrorInfo")))
        raise CallbackFailure(f"ErrorCode {code} is not 0, 1, 2 or 120001-130000")
    action = doc.get("action")
    if action == "allow":
        elements = custom = None
        if doc.get("elements") is not None:
            elements = _rewrite_elements(doc["elements"], tencent=False)
        if doc.get("cloud_custom_data") is not None:
            if not isinstance(doc["cloud_custom_data"], str):
                raise CallbackFailure("cloud_custom_data must be a string")
            custom = doc["cloud_custom_data"]
        return Decision(Action.ALLOW, elements, custom)
    if action == "reject":
        code = doc.get("code")
        if code is not None and not _is_int(code):
            raise CallbackFailure("code must be an integer")
        return Decision(Action.REJECT, app_code=code, app_message=_app_text(doc.get("message")))
    if action == "drop":
        return Decision(Action.DROP)
    raise CallbackFailure("the answer's action is not 'allow', 'reject' or 'drop'")


def new_token() -> str:
    return secrets.token_hex(16)


def apply_changes(current: CallbackSettings | None, sdkappid: int, *,
                  url: object = None, token: object = None, format: object = None,
                  enable: Iterable[object] = (), disable: Iterable[object] = (),
                  timeout_ms: object = None, failure_policy: object = None
                  ) -> CallbackSettings:
    """New settings from the current ones (None: callbacks off) and the
    changes asked for; what is not given keeps its value. Turning callbacks
    on needs a URL; a token is made when none was given."""
    if current is None and url is None:
        raise _invalid("url: required to turn callbacks on")
    base = current or CallbackSettings(sdkappid, "", "")
    enable_list = check_events(enable, "enable")
    disable_list = check_events(disable, "disable")
    if set(enable_list) & set(disable_list):
        raise _invalid("an event cannot be both enabled and disabled")
    disabled = (set(base.disabled) - set(enable_list)) | set(disable_list)
    return CallbackSettings(
        sdkappid=sdkappid,
        url=check_url(url) if url is not None else base.url,
        token=check_token(token) if token is not None else (base.token or new_token()),
        format=check_format(format) if format is not None else base.format,
        disabled=frozenset(disabled),
        timeout_ms=check_timeout(timeout_ms) if timeout_ms is not None else base.timeout_ms,
        failure_policy=(check_policy(failure_policy) if failure_policy is not None
                        else base.failure_policy),
        updated_at=base.updated_at)


def refusal(app_code: int | None, app_message: str, default: str) -> TidingsError:
    """The app's "no" from a before-callback: 20006 with its code and text."""
    details: dict[str, object] = {"app_message": app_message}
    if app_code is not None:
        details["app_code"] = app_code
    return TidingsError(ErrorCode.CALLBACK_REJECTED, app_message or default, details)
