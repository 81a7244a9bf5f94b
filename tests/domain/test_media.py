"""The pure parts of media: types from bytes, kind checks, ranges, the
upload ids a message names, signed URLs, and the elements an upload makes
(which map onto Tencent's MsgBody and back without loss)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import media_files
from tidings.config import Settings
from tidings.domain.elements import ELEMENTS
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.media import (
    MediaKind,
    MediaPolicy,
    check_kind,
    check_url,
    clean_name,
    media_ids,
    parse_range,
    sniff,
    url_signature,
)
from tidings.domain.tencent_msgbody import from_msgbody, to_msgbody
from tidings.services.media import MediaService
from tidings.store.media import MediaRow


@pytest.mark.parametrize(("data", "kind", "fmt"), [
    (media_files.jpeg(20, 10), "image", "jpg"),
    (media_files.png(), "image", "png"),
    (b"GIF89a" + b"\x00" * 20, "image", "gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image", "webp"),
    (media_files.wav(0.01), "sound", "wav"),
    (b"OggS\x00\x02" + b"\x00" * 30, "sound", "ogg"),
    (b"ID3\x04\x00" + b"\x00" * 20, "sound", "mp3"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "sound", "m4a"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x00\x00", "video", "mp4"),
    (b"\x1a\x45\xdf\xa3\x01\x00", "video", "webm"),
    (media_files.SCRIPT, "file", ""),
    (b"%PDF-1.7\n", "file", ""),
    (b"", "file", ""),
])
def test_sniff_by_magic_numbers(data: bytes, kind: str, fmt: str) -> None:
    found = sniff(data[:64])
    assert (found.kind.value, found.format) == (kind, fmt)


def test_kind_checks() -> None:
    script, image = sniff(media_files.SCRIPT), sniff(media_files.png())
    with pytest.raises(TidingsError) as refused:
        check_kind(MediaKind.IMAGE, script)
    assert refused.value.code == ErrorCode.MEDIA_TYPE_MISMATCH
    assert check_kind(None, script) is MediaKind.FILE
    assert check_kind(MediaKind.FILE, image) is MediaKind.FILE
    assert check_kind(None, image) is MediaKind.IMAGE
    policy = MediaPolicy(100, frozenset({MediaKind.IMAGE}))
    policy.check_size(100)
    with pytest.raises(TidingsError) as big:
        policy.check_size(101)
    assert big.value.code == ErrorCode.MEDIA_TOO_LARGE
    with pytest.raises(TidingsError) as kind:
        policy.check_kind(MediaKind.FILE)
    assert kind.value.code == ErrorCode.MEDIA_KIND_NOT_ALLOWED


@pytest.mark.parametrize(("header", "span"), [
    (None, None), ("bytes=0-9", (0, 9)), ("bytes=5-", (5, 99)), ("bytes=-10", (90, 99)),
    ("bytes=90-500", (90, 99)), ("bytes=0-1,5-6", None), ("items=0-1", None),
    ("bytes=x-y", None), ("bytes=7", None),
])
def test_ranges(header: str | None, span: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == span


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=50-10", "bytes=200-300"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(TidingsError) as refused:
        parse_range(header, 100)
    assert refused.value.code == ErrorCode.RANGE_NOT_SATISFIABLE


def test_media_ids_of_elements() -> None:
    assert media_ids('[{"type":"text","text":"media_id"}]') == ()
    assert media_ids('[{"type":"file","media_id":"","url":"x"}]') == ()
    assert media_ids(b'[{"type":"video","media_id":"mA","poster_media_id":"mA","url":"u"},'
                     b'{"type":"file","media_id":"mB","url":"v"},'
                     b'{"type":"file","media_id":"' + b"x" * 40 + b'","url":"v"}]') == (
        "mA", "mB")


def test_signed_urls() -> None:
    sig = url_signature(b"k", "mA", "thumb", 1000)
    check_url(b"k", "mA", "thumb", 1000, sig, 999)
    for args, code in [((b"k", "mA", "thumb", 1000, sig, 1001), ErrorCode.MEDIA_URL_EXPIRED),
                       ((b"k", "mA", "large", 1000, sig, 0), ErrorCode.MEDIA_URL_INVALID),
                       ((b"j", "mA", "thumb", 1000, sig, 0), ErrorCode.MEDIA_URL_INVALID),
                       ((b"k", "mB", "thumb", 1000, sig, 0), ErrorCode.MEDIA_URL_INVALID)]:
        with pytest.raises(TidingsError) as refused:
            check_url(*args)  # type: ignore[arg-type]
        assert refused.value.code == code


def test_clean_names() -> None:
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("a\\b\x00c.txt") == "b_c.txt"
    assert len(clean_name("x" * 500)) == 200


dims = st.integers(min_value=1, max_value=10_000)
variant = st.fixed_dictionaries({"hash": st.just("h" * 64), "size": st.integers(0, 2**40),
                                 "width": dims, "height": dims,
                                 "mime": st.just("image/jpeg")})
rows = st.builds(
    lambda kind, fmt, name, size, w, h, ms, large, thumb, poster: MediaRow(
        "mAbCdEfGhIjKlMnOpQrSt", 1, "alice", kind, "x/y", fmt, name, size, "a" * 64,
        w, h, ms,
        ({"thumb": thumb} | ({"large": large} if large else {})) if kind == "image"
        else ({"poster": poster} if poster and kind == "video" else {}), 0),
    st.sampled_from(["image", "sound", "video", "file"]),
    st.sampled_from(["jpg", "png", "gif", "webp", "mp4", "wav", ""]), st.text(max_size=30),
    st.integers(0, 2**40), dims, dims, st.integers(0, 10**8),
    st.one_of(st.none(), variant), variant, st.one_of(st.none(), variant))


@settings(max_examples=60, deadline=None)
@given(rows)
def test_upload_elements_are_valid_and_round_trip_through_tencent(row: MediaRow) -> None:
    service = MediaService(None, None, Settings(), Path("."), b"k")  # type: ignore[arg-type]
    element: dict[str, Any] = service.element_of(row)
    [model] = ELEMENTS.validate_python([element])
    dumped = model.model_dump()
    assert {k: dumped[k] for k in element} == element
    assert from_msgbody(to_msgbody([model])) == [model]
