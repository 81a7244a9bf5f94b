"""``parse_send`` (protocol/sends.py) against ``SendRequest``: for any data
a frame can carry,
the same refusal (pydantic's errors: same code and wording on the wire) or
the same fields and byte-identical elements JSON (what is stored, and what
history and sync answer). In process, no server: cheap."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tidings.domain.requests import SendRequest
from tidings.protocol import sends
from tidings.protocol.sends import parse_send

# Texts that orjson and pydantic might write differently: escapes, control
# characters, non-ASCII, astral code points, lone surrogates (refused).
_TEXTS = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None), min_size=0, max_size=8),
    st.sampled_from(["", "x" * 65, "x" * 129, "\x00\x1f\x7f\"\\/", "\u2028\u2029",
                     "\ud800", "😀", "é\u0301", "\ufeff", "<drop>"]),
)
_ODD = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                 st.lists(st.text(max_size=3), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))
_VALUES = st.one_of(_TEXTS, _ODD)
_TEXT_ELEMENT = st.fixed_dictionaries({"type": st.just("text"), "text": _TEXTS})
_ELEMENT = st.one_of(
    _TEXT_ELEMENT,
    _TEXT_ELEMENT.map(lambda e: {"text": e["text"], "type": "text"}),  # key order
    st.fixed_dictionaries({"type": st.just("text"), "text": _VALUES}),
    st.fixed_dictionaries({"type": st.just("text"), "text": _TEXTS, "extra": _VALUES}),
    st.fixed_dictionaries({"type": st.sampled_from(["custom", "face", "nope", "Text"])},
                          optional={"data": _VALUES, "index": _VALUES, "text": _TEXTS}),
    _ODD,
)


def _mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` four times in five: most drawn sends are off by one field."""
    return st.integers(0, 4).flatmap(lambda i: odd if i == 0 else valid)


_ID = _mostly(st.sampled_from(["c2c_bob", "group_g1", "x" * 64, "é😀"]), _VALUES)
_FRAMED = st.fixed_dictionaries(
    {"conversation_id": _ID, "client_msg_id": _ID,
     "elements": _mostly(st.lists(_TEXT_ELEMENT, min_size=1, max_size=3),
                         st.one_of(st.lists(_ELEMENT, max_size=22), _ODD))},
    optional={
        "cloud_custom_data": _mostly(st.text(max_size=8), _VALUES),
        "mentions": _mostly(st.lists(st.sampled_from(["bob", "@all"]), max_size=3),
                            st.one_of(st.lists(_VALUES, max_size=3),
                                      st.lists(st.just("bob"), min_size=101, max_size=101),
                                      _ODD)),
        "offline_push": _mostly(st.just("<drop>"),
                                st.one_of(st.none(), st.just({"disabled": True}), _ODD)),
        "extra": _mostly(st.just("<drop>"), _VALUES),
    },
).map(lambda d: _as_framed({k: v for k, v in d.items() if v != "<drop>"}))


def _as_framed(data: dict[str, Any]) -> Any:
    """``data`` as the gateway gets it, from orjson: never a lone surrogate
    (orjson refuses one: pydantic would too, with string_unicode)."""
    try:
        return orjson.loads(orjson.dumps(data))
    except orjson.JSONEncodeError:
        return {"conversation_id": 1}  # refused by both


def _outcome(data: dict[str, Any]) -> tuple[str, Any]:
    try:
        r = SendRequest.model_validate(data)
    except ValidationError as exc:
        return "refused", exc.errors(include_url=False)
    return "accepted", (r.conversation_id, r.client_msg_id, r.elements_json(),
                        r.cloud_custom_data, r.mentions, r.offline_push)


def _parsed(data: dict[str, Any]) -> tuple[str, Any]:
    try:
        s = parse_send(data)
    except ValidationError as exc:
        return "refused", exc.errors(include_url=False)
    return "accepted", (s.conversation_id, s.client_msg_id, s.elements,
                        s.cloud_custom_data, s.mentions, s.offline_push)


@settings(derandomize=True, max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_FRAMED)
def test_parse_send_answers_as_send_request(data: dict[str, Any]) -> None:
    assert _parsed(data) == _outcome(data)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(_TEXT_ELEMENT, min_size=1, max_size=20), st.text(max_size=64))
def test_text_elements_are_stored_byte_identical(elements: list[dict[str, Any]],
                                                 custom: str) -> None:
    data = {"conversation_id": "c2c_bob", "client_msg_id": "m1", "elements": elements,
            "cloud_custom_data": custom}
    assert _parsed(data) == _outcome(data)


def test_a_plain_text_send_skips_pydantic(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: Any) -> None:
        raise AssertionError("pydantic was asked")

    monkeypatch.setattr(sends.SendRequest, "model_validate", refuse)
    parsed = parse_send({"conversation_id": "group_g1", "client_msg_id": "m1",
                         "elements": [{"type": "text", "text": "hi \"you\" 😀"}] * 2,
                         "mentions": ["bob", "@all"]})
    assert orjson.loads(parsed.elements) == [{"type": "text", "text": "hi \"you\" 😀"}] * 2
    assert parsed.mentions == ["bob", "@all"]
    assert parsed.cloud_custom_data == "" and parsed.offline_push is None


def test_other_sends_go_through_pydantic() -> None:
    image = {"type": "image", "variants": [{"kind": "original", "url": "https://x/a.png"}]}
    parsed = parse_send({"conversation_id": "c2c_bob", "client_msg_id": "m1",
                         "elements": [image], "offline_push": {"disabled": True}})
    assert parsed.offline_push is not None and parsed.offline_push.disabled
    assert orjson.loads(parsed.elements)[0]["media_id"] == ""  # defaults written
    with pytest.raises(ValidationError) as refused:
        parse_send({"conversation_id": "c2c_bob", "client_msg_id": "",
                    "elements": [{"type": "text", "text": "hi"}]})
    assert refused.value.errors()[0]["loc"] == ("client_msg_id",)
