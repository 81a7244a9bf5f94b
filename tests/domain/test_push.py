"""The text of a notification, the sender's options and the checks of a
push address (no I/O)."""

from __future__ import annotations

import orjson
import pytest

from tests.push_support import b64, off_curve, p256dh
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.push import (
    PushOptions,
    PushRegisterRequest,
    check_address,
    notification,
    preview,
)


def elements(*items: dict[str, object]) -> str:
    return orjson.dumps(list(items)).decode()


def test_preview_labels_each_kind() -> None:
    assert preview(elements({"type": "text", "text": "hi"})) == "hi"
    assert preview(elements({"type": "text", "text": "look"},
                            {"type": "image", "variants": []})) == "look [Image]"
    assert preview(elements({"type": "sound"}, {"type": "video"}, {"type": "file"},
                            {"type": "location"}, {"type": "face"})) == (
        "[Voice] [Video] [File] [Location] [Sticker]")
    assert preview(elements({"type": "custom", "desc": "Order shipped"})) == "Order shipped"
    assert preview(elements({"type": "custom", "data": "x"})) == "[Message]"
    assert preview(elements({"type": "quote", "seq": 3}, {"type": "text", "text": "yes"})) == (
        "yes")
    assert preview("not json") == ""


def test_notification_text() -> None:
    hi = elements({"type": "text", "text": "hi"})
    image = elements({"type": "image", "variants": []})
    assert notification("Alice", None, hi, PushOptions(), False) == ("", "Alice: hi")
    assert notification("Alice", "Team", image, PushOptions(), False) == (
        "", "Alice (Team): [Image]")
    assert notification("Alice", None, hi, PushOptions(title="Shop", text="Parcel"),
                        False) == ("Shop", "Parcel")
    # Private: neither the content nor the sender's own text.
    assert notification("Alice", "Team", hi, PushOptions(title="T", text="Parcel"),
                        True) == ("", "New message")


def test_options_stored_and_from_tencent() -> None:
    assert PushOptions().stored() == ""
    stored = PushOptions(title="a", text="b", ext="c").stored()
    assert PushOptions.from_stored(stored) == PushOptions(title="a", text="b", ext="c")
    assert PushOptions.from_tencent(None) == PushOptions()
    assert PushOptions.from_tencent({"PushFlag": 1}).disabled is True
    assert PushOptions.from_tencent({"Title": "t", "Desc": "d", "Ext": "e",
                                     "ApnsInfo": {"Sound": "x"}}) == PushOptions(
        title="t", text="d", ext="e")
    for bad in ("x", {"Title": "t" * 101}):
        with pytest.raises(TidingsError) as raised:
            PushOptions.from_tencent(bad)
        assert raised.value.code is ErrorCode.INVALID_REQUEST


def _sub(endpoint: str = "https://push.example/1", key: bytes | None = None,
         auth: bytes = b"a" * 16) -> dict[str, object]:
    return {"endpoint": endpoint, "keys": {"p256dh": b64(key or p256dh()), "auth": b64(auth)}}


@pytest.mark.parametrize(("data", "allow_http"), [
    ({"channel": "webpush", "subscription": _sub("http://push.example/1")}, False),
    ({"channel": "webpush", "subscription": _sub(key=b"\x02" + p256dh()[1:])}, False),
    ({"channel": "webpush", "subscription": _sub(key=off_curve())}, False),
    ({"channel": "webpush", "subscription": _sub(key=b"\x04" + bytes(64))}, False),
    ({"channel": "webpush", "subscription": _sub(key=p256dh()[:33])}, False),
    ({"channel": "webpush", "subscription": _sub(auth=b"a" * 15)}, False),
    ({"channel": "webpush", "subscription": {**_sub(), "keys": {"p256dh": "!!", "auth": "a"}}},
     False),
    ({"channel": "webpush", "token": "abc"}, False),
    ({"channel": "apns", "token": "abc"}, False),
    ({"channel": "apns", "token": "zz" * 32}, False),
    ({"channel": "fcm", "token": "a b"}, False),
    ({"channel": "fcm", "subscription": _sub()}, False),
])
def test_bad_addresses(data: dict[str, object], allow_http: bool) -> None:
    with pytest.raises(TidingsError) as raised:
        check_address(PushRegisterRequest.model_validate(data), allow_http)
    assert raised.value.code is ErrorCode.INVALID_PUSH_TOKEN


def test_a_p256dh_off_the_curve_is_refused_clearly() -> None:
    """65 bytes that begin with 0x04 but are not a point of P-256 could never
    encrypt a push: refused at registration, saying why."""
    with pytest.raises(TidingsError) as raised:
        check_address(PushRegisterRequest.model_validate(
            {"channel": "webpush", "subscription": _sub(key=off_curve())}))
    assert raised.value.code is ErrorCode.INVALID_PUSH_TOKEN
    assert raised.value.message == (
        "keys.p256dh must be an uncompressed P-256 point: this one is not on the curve")


def test_good_addresses() -> None:
    sub = check_address(PushRegisterRequest.model_validate(
        {"channel": "webpush", "subscription": {**_sub(), "expirationTime": None}}))
    assert orjson.loads(sub)["endpoint"] == "https://push.example/1"
    key = p256dh()
    stored = check_address(PushRegisterRequest.model_validate(
        {"channel": "webpush", "subscription": _sub(key=key, auth=b"s" * 16)}))
    assert orjson.loads(stored)["keys"] == {"p256dh": b64(key), "auth": b64(b"s" * 16)}
    assert check_address(PushRegisterRequest.model_validate(
        {"channel": "webpush", "subscription": _sub("http://127.0.0.1:9/x")}), True)
    assert check_address(PushRegisterRequest.model_validate(
        {"channel": "apns", "token": "AB" * 32})) == "ab" * 32
    assert check_address(PushRegisterRequest.model_validate(
        {"channel": "fcm", "token": "dGVzdA:APA91b"})) == "dGVzdA:APA91b"
