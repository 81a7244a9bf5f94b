"""The MsgBody mapping: one-to-one and lossless both ways, with clear 90002
errors naming the place of a malformed MsgBody."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.elements import ELEMENTS
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.tencent_msgbody import from_msgbody, to_msgbody

text = st.text(max_size=20)
size = st.integers(min_value=0, max_value=2**53)
seconds = st.one_of(st.integers(min_value=0, max_value=10**6),
                    st.floats(min_value=0, max_value=1e6, allow_nan=False))
variant = st.fixed_dictionaries({
    "kind": st.sampled_from(["original", "large", "thumb"]), "url": text,
    "width": size, "height": size, "size": size})

element = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(min_size=1, max_size=20)}),
    st.fixed_dictionaries({"type": st.just("custom"), "data": text, "desc": text, "ext": text,
                           "sound": text}),
    st.fixed_dictionaries({"type": st.just("face"), "index": st.integers(-2**31, 2**31),
                           "data": text}),
    st.fixed_dictionaries({"type": st.just("location"), "desc": text,
                           "latitude": st.floats(-90, 90), "longitude": st.floats(-180, 180)}),
    st.fixed_dictionaries({"type": st.just("image"), "media_id": text,
                           "format": st.one_of(st.sampled_from(["", "jpg", "gif", "png", "bmp",
                                                                "JPG", "webp"]), text),
                           "variants": st.lists(variant, min_size=1, max_size=3)}),
    st.fixed_dictionaries({"type": st.just("sound"), "media_id": text, "url": text,
                           "size": size, "duration": seconds}),
    st.fixed_dictionaries({"type": st.just("video"), "media_id": text, "url": text,
                           "format": text, "size": size, "duration": seconds,
                           "poster_url": text, "poster_width": size, "poster_height": size,
                           "poster_media_id": text, "poster_size": size,
                           "poster_format": text}),
    st.fixed_dictionaries({"type": st.just("file"), "media_id": text, "url": text,
                           "name": text, "size": size}),
)


@settings(max_examples=300)
@given(st.lists(element, min_size=1, max_size=20))
def test_round_trip_is_lossless_both_ways(raw: list[dict[str, Any]]) -> None:
    elements = ELEMENTS.validate_python(raw)
    body = to_msgbody(elements)
    # Through JSON, as on the wire.
    body = orjson.loads(orjson.dumps(body))
    assert from_msgbody(body) == elements
    assert to_msgbody(from_msgbody(body)) == body
    # Stored elements (dicts, as the database holds them) map the same.
    stored = orjson.loads(ELEMENTS.dump_json(elements))
    assert to_msgbody(stored) == body


def test_tencent_examples_map_to_our_elements() -> None:
    body = [
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}},
        {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "content"}},
        {"MsgType": "TIMLocationElem", "MsgContent": {
            "Desc": "someinfo", "Latitude": 29.340656774469956, "Longitude": 116.77497920478824}},
        {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "message", "Desc": "notification",
                                                    "Ext": "url", "Sound": "dingdong.aiff"}},
        {"MsgType": "TIMImageElem", "MsgContent": {
            "UUID": "1853095_D61040894AC3DE44CDFFFB3EC7EB720F", "ImageFormat": 1,
            "ImageInfoArray": [
                {"Type": 1, "Size": 1853095, "Width": 2448, "Height": 3264, "URL": "http://x/0"},
                {"Type": 3, "Size": 12535, "Width": 0, "Height": 0, "URL": "http://x/198"}]}},
        {"MsgType": "TIMSoundElem", "MsgContent": {"Url": "https://cos/a", "Size": 62351,
                                                   "Second": 1, "Download_Flag": 2}},
        {"MsgType": "TIMFileElem", "MsgContent": {"Url": "https://cos/f", "FileSize": 1773552,
                                                  "FileName": "trim.MOV", "Download_Flag": 2}},
        {"MsgType": "TIMVideoFileElem", "MsgContent": {
            "VideoUrl": "https://cos/v", "VideoUUID": "5da3", "VideoSize": 1194603,
            "VideoSecond": 5, "VideoFormat": "mp4", "VideoDownloadFlag": 2,
            "ThumbUrl": "https://cos/t", "ThumbUUID": "6eda", "ThumbSize": 13907,
            "ThumbWidth": 720, "ThumbHeight": 1280, "ThumbFormat": "JPG",
            "ThumbDownloadFlag": 2}},
    ]
    got = [e.model_dump() for e in from_msgbody(body)]
    assert got[0] == {"type": "text", "text": "hello"}
    assert got[1] == {"type": "face", "index": 1, "data": "content"}
    assert got[2]["latitude"] == 29.340656774469956 and got[2]["desc"] == "someinfo"
    assert got[3] == {"type": "custom", "data": "message", "desc": "notification", "ext": "url",
                      "sound": "dingdong.aiff"}
    assert got[4]["format"] == "jpg" and got[4]["media_id"].startswith("1853095_")
    assert [(v["kind"], v["size"]) for v in got[4]["variants"]] == [
        ("original", 1853095), ("thumb", 12535)]
    assert got[5] == {"type": "sound", "media_id": "", "url": "https://cos/a", "size": 62351,
                      "duration": 1.0}
    assert got[6] == {"type": "file", "media_id": "", "url": "https://cos/f",
                      "name": "trim.MOV", "size": 1773552}
    assert got[7]["poster_media_id"] == "6eda" and got[7]["poster_format"] == "JPG"
    assert got[7]["duration"] == 5.0 and got[7]["poster_size"] == 13907
    # Back again: the same body (whole seconds stay integers), every key present.
    again = to_msgbody(from_msgbody(body))
    assert again[5]["MsgContent"] == {"UUID": "", **body[5]["MsgContent"]}
    assert again[7]["MsgContent"] == body[7]["MsgContent"]
    assert again[4]["MsgContent"]["ImageInfoArray"] == body[4]["MsgContent"]["ImageInfoArray"]


def test_uncommon_image_formats_survive_the_trip() -> None:
    [webp] = ELEMENTS.validate_python([{"type": "image", "format": "webp",
                                        "variants": [{"kind": "thumb", "url": "u"}]}])
    [item] = to_msgbody([webp])
    assert item["MsgContent"]["ImageFormat"] == 255 and item["MsgContent"]["Format"] == "webp"
    assert from_msgbody([item]) == [webp]
    [other] = from_msgbody([{"MsgType": "TIMImageElem", "MsgContent": {
        "ImageFormat": 255, "ImageInfoArray": [{"Type": 2, "URL": "u"}]}}])
    assert other.model_dump()["format"] == ""


@pytest.mark.parametrize(("body", "where"), [
    ({}, "MsgBody"),
    ([], "MsgBody"),
    ([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}] * 21, "MsgBody"),
    (["text"], "MsgBody[0]"),
    ([{"MsgType": "TIMTextElem"}], "MsgBody[0].MsgContent"),
    ([{"MsgContent": {}}], "MsgBody[0].MsgType"),
    ([{"MsgType": "TIMGroupTipsElem", "MsgContent": {}}], "MsgBody[0].MsgType"),
    ([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "a"}, "Extra": 1}], "MsgBody[0].Extra"),
    ([{"MsgType": "TIMTextElem", "MsgContent": {}}], "MsgBody[0].MsgContent.Text"),
    ([{"MsgType": "TIMTextElem", "MsgContent": {"Text": ""}}], "MsgBody[0].MsgContent.Text"),
    ([{"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}], "MsgBody[0].MsgContent.Text"),
    ([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "a", "Nope": ""}}],
     "MsgBody[0].MsgContent.Nope"),
    ([{"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1.5}}], "MsgBody[0].MsgContent.Index"),
    ([{"MsgType": "TIMFaceElem", "MsgContent": {"Index": True}}], "MsgBody[0].MsgContent.Index"),
    ([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "ok"}},
      {"MsgType": "TIMLocationElem", "MsgContent": {"Latitude": 91, "Longitude": 0}}],
     "MsgBody[1].MsgContent.Latitude"),
    ([{"MsgType": "TIMLocationElem", "MsgContent": {"Latitude": 1}}],
     "MsgBody[0].MsgContent.Longitude"),
    ([{"MsgType": "TIMSoundElem", "MsgContent": {"Url": "u", "Download_Flag": 1}}],
     "MsgBody[0].MsgContent.Download_Flag"),
    ([{"MsgType": "TIMFileElem", "MsgContent": {"Url": "u", "FileSize": -1}}],
     "MsgBody[0].MsgContent.FileSize"),
    ([{"MsgType": "TIMImageElem", "MsgContent": {"ImageFormat": 7, "ImageInfoArray": [
        {"Type": 1, "URL": "u"}]}}], "MsgBody[0].MsgContent.ImageFormat"),
    ([{"MsgType": "TIMImageElem", "MsgContent": {"ImageFormat": 1, "Format": "webp",
                                                 "ImageInfoArray": [{"Type": 1, "URL": "u"}]}}],
     "MsgBody[0].MsgContent.Format"),
    ([{"MsgType": "TIMImageElem", "MsgContent": {}}], "MsgBody[0].MsgContent.ImageInfoArray"),
    ([{"MsgType": "TIMImageElem", "MsgContent": {"ImageInfoArray": [{"Type": 4, "URL": "u"}]}}],
     "MsgBody[0].MsgContent.ImageInfoArray[0].Type"),
    ([{"MsgType": "TIMImageElem", "MsgContent": {"ImageInfoArray": [
        {"Type": 1, "URL": "u", "Width": -3}]}}],
     "MsgBody[0].MsgContent.ImageInfoArray[0].Width"),
    ([{"MsgType": "TIMVideoFileElem", "MsgContent": {"VideoUrl": "v", "ThumbWidth": "720"}}],
     "MsgBody[0].MsgContent.ThumbWidth"),
])
def test_malformed_msgbody_is_refused_naming_the_place(body: Any, where: str) -> None:
    with pytest.raises(TidingsError) as info:
        from_msgbody(body)
    assert info.value.code is ErrorCode.INVALID_MESSAGE_BODY
    assert info.value.message.startswith(where + ":"), info.value.message
