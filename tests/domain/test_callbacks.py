"""Callback requests and answers, without a network: both formats' shapes
and signatures, how an answer is read, and the settings' rules."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from tidings.domain.callbacks import (
    Action,
    CallbackFailure,
    CallbackFormat,
    CallbackSettings,
    Event,
    acknowledged,
    apply_changes,
    build_request,
    message_data,
    read_before_send,
)
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.sdk import CallbackSignatureError, verify_callback, verify_tencent_sign

TOKEN = "s3cret-callback-token"
DATA = orjson.loads(message_data("alice", "bob", "m-1", b'[{"type":"text","text":"hi"}]', "{}",
                                 "ios", "10.0.0.7", msg_id="3-7", seq=7, time=1795310000123))


def settings(fmt: CallbackFormat) -> CallbackSettings:
    return CallbackSettings(1400000001, "https://app.example/cb?k=v", TOKEN, fmt)


def test_native_request_is_signed_and_verifies_within_the_window() -> None:
    out = build_request(settings(CallbackFormat.NATIVE), Event.AFTER_SEND, "e1", 1795310000123,
                        DATA, 1795310001, "ua")
    assert out.url == "https://app.example/cb?k=v"
    doc = verify_callback(TOKEN, out.body, out.headers["X-Tidings-Signature"], now=1795310001)
    assert doc == {"event": "after_send", "sdkappid": 1400000001, "time": 1795310000123,
                   "event_id": "e1", "data": DATA}
    assert out.headers["X-Tidings-Event"] == "after_send"
    assert out.headers["X-Tidings-Event-Id"] == "e1"
    sig = out.headers["X-Tidings-Signature"]
    for bad in (lambda: verify_callback("other-token", out.body, sig, now=1795310001),
                lambda: verify_callback(TOKEN, out.body + b" ", sig, now=1795310001),
                lambda: verify_callback(TOKEN, out.body, sig, now=1795310001 + 301),
                lambda: verify_callback(TOKEN, out.body, sig, now=1795310001 - 301),
                lambda: verify_callback(TOKEN, out.body, "v1=abc", now=1795310001)):
        with pytest.raises(CallbackSignatureError):
            bad()
    assert verify_callback(TOKEN, out.body, sig, now=1795310001 + 300)["event_id"] == "e1"


def test_tencent_request_has_tencents_query_sign_and_body() -> None:
    out = build_request(settings(CallbackFormat.TENCENT), Event.AFTER_SEND, "e1",
                        1795310000123, DATA, 1795310001, "ua")
    parts = urlsplit(out.url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.example", "/cb")
    query = dict(parse_qsl(parts.query))
    assert query == {"k": "v", "SdkAppid": "1400000001",
                     "CallbackCommand": "C2C.CallbackAfterSendMsg", "contenttype": "json",
                     "ClientIP": "10.0.0.7", "OptPlatform": "ios",
                     "Sign": hashlib.sha256(f"{TOKEN}1795310001".encode()).hexdigest(),
                     "RequestTime": "1795310001"}
    verify_tencent_sign(TOKEN, query["RequestTime"], query["Sign"], now=1795310001)
    with pytest.raises(CallbackSignatureError):
        verify_tencent_sign(TOKEN, query["RequestTime"], query["Sign"], now=1795310001 + 400)
    body = orjson.loads(out.body)
    assert body["CallbackCommand"] == "C2C.CallbackAfterSendMsg"
    assert (body["From_Account"], body["To_Account"], body["MsgSeq"]) == ("alice", "bob", 7)
    assert body["MsgTime"] == 1795310000 and body["MsgId"] == "m-1"
    assert body["MsgKey"] == f"7_{body['MsgRandom']}_1795310000"
    assert body["MsgBody"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]
    assert body["CloudCustomData"] == "{}" and body["SendMsgResult"] == 0


@pytest.mark.parametrize(("answer", "action", "code", "text"), [
    ({"action": "allow"}, Action.ALLOW, None, ""),
    ({"action": "drop"}, Action.DROP, None, ""),
    ({"action": "reject"}, Action.REJECT, None, ""),
    ({"action": "reject", "code": 4001, "message": "no phone numbers"}, Action.REJECT, 4001,
     "no phone numbers"),
])
def test_native_answers(answer: dict[str, object], action: Action, code: int | None,
                        text: str) -> None:
    decision = read_before_send(CallbackFormat.NATIVE, 200, orjson.dumps(answer))
    assert (decision.action, decision.app_code, decision.app_message) == (action, code, text)


@pytest.mark.parametrize(("answer", "action", "code"), [
    ({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}, Action.ALLOW, None),
    ({"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": "no"}, Action.REJECT, None),
    ({"ActionStatus": "OK", "ErrorCode": 2, "ErrorInfo": ""}, Action.DROP, None),
    ({"ActionStatus": "OK", "ErrorCode": 120001, "ErrorInfo": "x"}, Action.REJECT, 120001),
    ({"ActionStatus": "OK", "ErrorCode": 130000, "ErrorInfo": "x"}, Action.REJECT, 130000),
])
def test_tencent_answers(answer: dict[str, object], action: Action, code: int | None) -> None:
    decision = read_before_send(CallbackFormat.TENCENT, 200, orjson.dumps(answer))
    assert (decision.action, decision.app_code) == (action, code)


def test_rewrites_are_validated_with_the_element_model() -> None:
    d = read_before_send(CallbackFormat.NATIVE, 200, orjson.dumps({
        "action": "allow", "elements": [{"type": "face", "index": 3}],
        "cloud_custom_data": "x"}))
    assert d.elements_json == b'[{"type":"face","index":3,"data":""}]'
    assert d.cloud_custom_data == "x"
    d = read_before_send(CallbackFormat.TENCENT, 200, orjson.dumps({
        "ErrorCode": 0, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "***"}}]}))
    assert d.elements_json == b'[{"type":"text","text":"***"}]' and d.cloud_custom_data is None
    for fmt, answer in ((CallbackFormat.NATIVE, {"action": "allow", "elements": []}),
                        (CallbackFormat.NATIVE, {"action": "allow", "cloud_custom_data": 1}),
                        (CallbackFormat.TENCENT, {"ErrorCode": 0, "MsgBody": [{"MsgType": "X"}]})):
        with pytest.raises(CallbackFailure, match=r"rewritten|string"):
            read_before_send(fmt, 200, orjson.dumps(answer))


@pytest.mark.parametrize(("fmt", "status", "body"), [
    (CallbackFormat.NATIVE, 500, b'{"action":"allow"}'),
    (CallbackFormat.NATIVE, 302, b""),
    (CallbackFormat.NATIVE, 200, b"<html>ok</html>"),
    (CallbackFormat.NATIVE, 200, b"[1]"),
    (CallbackFormat.NATIVE, 200, b'{"action":"maybe"}'),
    (CallbackFormat.NATIVE, 200, b'{"action":"reject","code":"4001"}'),
    (CallbackFormat.TENCENT, 200, b'{"ActionStatus":"OK"}'),
    (CallbackFormat.TENCENT, 200, b'{"ErrorCode":3}'),
    (CallbackFormat.TENCENT, 200, b'{"ErrorCode":true}'),
    (CallbackFormat.TENCENT, 200, b'{"ErrorCode":130001}'),
])
def test_garbage_answers_are_failures(fmt: CallbackFormat, status: int, body: bytes) -> None:
    with pytest.raises(CallbackFailure):
        read_before_send(fmt, status, body)


def test_acknowledgement_needs_2xx_and_a_json_object() -> None:
    acknowledged(200, b"{}")
    acknowledged(204 - 4, b'{"ActionStatus":"OK","ErrorCode":0}')
    for status, body in ((500, b"{}"), (301, b"{}"), (200, b""), (200, b"OK")):
        with pytest.raises(CallbackFailure):
            acknowledged(status, body)


def test_settings_rules() -> None:
    s = apply_changes(None, 7, url="https://a.example/cb")
    assert len(s.token) == 32 and s.format is CallbackFormat.NATIVE and s.timeout_ms == 2000
    assert all(s.view()["events"].values())
    s = apply_changes(s, 7, disable=["state_change"], timeout_ms=300, failure_policy="block")
    assert not s.enabled("state_change") and s.enabled("after_send") and s.url.endswith("/cb")
    s = apply_changes(s, 7, enable=["state_change"], format="tencent", token="t" * 8)
    assert s.enabled("state_change") and s.format is CallbackFormat.TENCENT
    for changes in ({"url": "ftp://a.example"}, {"url": "https:///x"}, {"url": "http://a b"},
                    {"url": "http://a.example/#f"}, {"token": "short"}, {"token": "with space!"},
                    {"format": "xml"}, {"timeout_ms": 99}, {"timeout_ms": 10_001},
                    {"timeout_ms": True}, {"failure_policy": "maybe"}, {"enable": ["test"]},
                    {"disable": ["nope"]}, {"enable": ["after_send"], "disable": ["after_send"]}):
        with pytest.raises(TidingsError) as info:
            apply_changes(s, 7, **changes)  # type: ignore[arg-type]
        assert info.value.code is ErrorCode.INVALID_REQUEST, changes
    with pytest.raises(TidingsError, match="url: required"):
        apply_changes(None, 7, token="t" * 8)
