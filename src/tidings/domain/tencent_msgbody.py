"""Our message elements to and from Tencent Cloud IM's ``MsgBody``.

A ``MsgBody`` is a list of ``{"MsgType": "TIM...Elem", "MsgContent": {...}}``;
each kind is one of our element types, field for field:

=================  ==========  =====================================================
MsgType            ``type``    MsgContent -> element fields
=================  ==========  =====================================================
TIMTextElem        text        Text -> text
TIMCustomElem      custom      Data, Desc, Ext, Sound -> data, desc, ext, sound
TIMFaceElem        face        Index, Data -> index, data
TIMLocationElem    location    Desc, Latitude, Longitude -> desc, latitude, longitude
TIMImageElem       image       UUID -> media_id; ImageFormat (1 jpg, 2 gif, 3 png,
                               4 bmp, 255 other) -> format; ImageInfoArray
                               [{Type (1 original, 2 large, 3 thumb), Size, Width,
                               Height, URL}] -> variants [{kind, size, width,
                               height, url}]
TIMSoundElem       sound       UUID, Url, Size, Second -> media_id, url, size,
                               duration
TIMFileElem        file        UUID, Url, FileSize, FileName -> media_id, url, size,
                               name
TIMVideoFileElem   video       VideoUUID, VideoUrl, VideoSize, VideoSecond,
                               VideoFormat -> media_id, url, size, duration,
                               format; ThumbUUID, ThumbUrl, ThumbSize, ThumbWidth,
                               ThumbHeight, ThumbFormat -> poster_media_id,
                               poster_url, poster_size, poster_width,
                               poster_height, poster_format
=================  ==========  =====================================================

Both directions are lossless: ``from_msgbody(to_msgbody(e)) == e`` for every
valid element list, and ``to_msgbody(from_msgbody(m)) == m`` for every MsgBody
in the canonical form that ``to_msgbody`` writes (every key present, the
download flags at 2). Three rules make that hold:

- An image ``format`` other than ``jpg``, ``gif``, ``png``, ``bmp`` or ``""``
  is written as ``ImageFormat: 255`` plus a ``Format`` key holding our string
  (Tencent's readers ignore the extra key); ``ImageFormat: 255`` without
  ``Format`` reads as ``""``.
- Durations (``Second``, ``VideoSecond``) are written as integers when whole,
  else as JSON fractions (Tencent's own are whole seconds).
- ``Download_Flag``, ``VideoDownloadFlag`` and ``ThumbDownloadFlag`` are always
  2 (Tencent: "download from the URL"); on input they may be absent, any
  other value is refused.

Input is checked strictly: an unknown MsgType, an unknown key in MsgContent, a
wrong type or a missing required field is refused with 90002
(``INVALID_MESSAGE_BODY``, Tencent's code for a malformed MsgBody) and a
message naming the place, e.g. ``MsgBody[1].MsgContent.Latitude: required``.
Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence, Set
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from tidings.domain.elements import ELEMENTS, MAX_ELEMENTS, Element
from tidings.domain.errors import ErrorCode, TidingsError

IMAGE_FORMATS: dict[int, str] = {1: "jpg", 2: "gif", 3: "png", 4: "bmp"}
IMAGE_FORMAT_CODES: dict[str, int] = {name: code for code, name in IMAGE_FORMATS.items()}
OTHER_IMAGE_FORMAT = 255
VARIANT_TYPES: dict[int, str] = {1: "original", 2: "large", 3: "thumb"}
VARIANT_CODES: dict[str, int] = {name: code for code, name in VARIANT_TYPES.items()}
DOWNLOAD_FLAG = 2

_REQUIRED = object()

# MsgType -> (our type, [(Tencent key, our field, kind, default)], download flag keys).
# Kinds: "str", "int" (an integer), "num" (any number), "sec" (a duration).
_Spec = tuple[str, list[tuple[str, str, str, object]], tuple[str, ...]]
_SPECS: dict[str, _Spec] = {
    "TIMTextElem": ("text", [("Text", "text", "str", _REQUIRED)], ()),
    "TIMCustomElem": ("custom", [("Data", "data", "str", ""), ("Desc", "desc", "str", ""),
                                 ("Ext", "ext", "str", ""), ("Sound", "sound", "str", "")], ()),
    "TIMFaceElem": ("face", [("Index", "index", "int", _REQUIRED), ("Data", "data", "str", "")],
                    ()),
    "TIMLocationElem": ("location", [("Desc", "desc", "str", ""),
                                     ("Latitude", "latitude", "num", _REQUIRED),
                                     ("Longitude", "longitude", "num", _REQUIRED)], ()),
    "TIMSoundElem": ("sound", [("UUID", "media_id", "str", ""), ("Url", "url", "str", _REQUIRED),
                               ("Size", "size", "int", 0), ("Second", "duration", "sec", 0)],
                     ("Download_Flag",)),
    "TIMFileElem": ("file", [("UUID", "media_id", "str", ""), ("Url", "url", "str", _REQUIRED),
                             ("FileSize", "size", "int", 0), ("FileName", "name", "str", "")],
                    ("Download_Flag",)),
    "TIMVideoFileElem": ("video", [
        ("VideoUUID", "media_id", "str", ""), ("VideoUrl", "url", "str", _REQUIRED),
        ("VideoSize", "size", "int", 0), ("VideoSecond", "duration", "sec", 0),
        ("VideoFormat", "format", "str", ""),
        ("ThumbUUID", "poster_media_id", "str", ""), ("ThumbUrl", "poster_url", "str", ""),
        ("ThumbSize", "poster_size", "int", 0), ("ThumbWidth", "poster_width", "int", 0),
        ("ThumbHeight", "poster_height", "int", 0), ("ThumbFormat", "poster_format", "str", ""),
    ], ("VideoDownloadFlag", "ThumbDownloadFlag")),
}
_MSG_TYPES: dict[str, str] = {spec[0]: name for name, spec in _SPECS.items()}
_MSG_TYPES["image"] = "TIMImageElem"
MSG_TYPES: tuple[str, ...] = (*_SPECS, "TIMImageElem")


def _bad(where: str, reason: str) -> TidingsError:
    return TidingsError(ErrorCode.INVALID_MESSAGE_BODY, f"{where}: {reason}")


def _seconds(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


# -- ours -> Tencent ---------------------------------------------------------------


def _as_dict(element: Element | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(element, BaseModel):
        return element.model_dump()
    # Stored elements are normalized, but older rows may lack newer fields:
    # the model fills them in.
    return ELEMENTS.validate_python([dict(element)])[0].model_dump()


def element_to_tencent(element: Element | Mapping[str, Any]) -> dict[str, Any]:
    """One element as a ``{"MsgType", "MsgContent"}`` item, in canonical form.
    A reply's quote (Tencent has no such element) is a custom element whose
    ``Desc`` is ``"tidings.quote"`` and ``Data`` the quote as JSON."""
    el = _as_dict(element)
    kind = el["type"]
    if kind == "quote":
        return {"MsgType": "TIMCustomElem", "MsgContent": {
            "Data": orjson.dumps(el).decode(), "Desc": "tidings.quote", "Ext": "",
            "Sound": ""}}
    msg_type = _MSG_TYPES[kind]
    if msg_type == "TIMImageElem":
        content: dict[str, Any] = {"UUID": el["media_id"]}
        fmt = el["format"]
        if fmt in IMAGE_FORMAT_CODES:
            content["ImageFormat"] = IMAGE_FORMAT_CODES[fmt]
        else:
            content["ImageFormat"] = OTHER_IMAGE_FORMAT
            if fmt:
                content["Format"] = fmt
        content["ImageInfoArray"] = [
            {"Type": VARIANT_CODES[v["kind"]], "Size": v["size"], "Width": v["width"],
             "Height": v["height"], "URL": v["url"]} for v in el["variants"]]
        return {"MsgType": msg_type, "MsgContent": content}
    _, fields, flags = _SPECS[msg_type]
    content = {}
    for key, name, how, _ in fields:
        content[key] = _seconds(el[name]) if how == "sec" else el[name]
    for flag in flags:
        content[flag] = DOWNLOAD_FLAG
    return {"MsgType": msg_type, "MsgContent": content}


def to_msgbody(elements: Sequence[Element | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Our elements (models, or their dicts as stored) as a Tencent MsgBody."""
    return [element_to_tencent(e) for e in elements]


# -- Tencent -> ours ---------------------------------------------------------------


def _read(value: object, how: str, where: str) -> object:
    if how == "str":
        if not isinstance(value, str):
            raise _bad(where, "must be a string")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(where, "must be a number")
    if how == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise _bad(where, "must be an integer")
            return int(value)
        return value
    return float(value) if how in ("num", "sec") else value


def _image(content: Mapping[str, Any], where: str) -> dict[str, Any]:
    allowed = {"UUID", "ImageFormat", "Format", "ImageInfoArray"}
    for key in content:
        if key not in allowed:
            raise _bad(f"{where}.{key}", "unknown field")
    media_id = _read(content.get("UUID", ""), "str", f"{where}.UUID")
    code = _read(content.get("ImageFormat", OTHER_IMAGE_FORMAT), "int", f"{where}.ImageFormat")
    if code != OTHER_IMAGE_FORMAT and code not in IMAGE_FORMATS:
        raise _bad(f"{where}.ImageFormat", "must be 1 (JPG), 2 (GIF), 3 (PNG), 4 (BMP) "
                                           "or 255 (other)")
    if "Format" in content:
        if code != OTHER_IMAGE_FORMAT:
            raise _bad(f"{where}.Format", "only with ImageFormat 255")
        fmt = _read(content["Format"], "str", f"{where}.Format")
        if fmt in IMAGE_FORMAT_CODES or fmt == "":
            raise _bad(f"{where}.Format", f"{fmt!r} is written as its ImageFormat code")
    else:
        fmt = IMAGE_FORMATS.get(int(code), "")
    infos = content.get("ImageInfoArray", _REQUIRED)
    if infos is _REQUIRED:
        raise _bad(f"{where}.ImageInfoArray", "required")
    if not isinstance(infos, list) or not 1 <= len(infos) <= 3:
        raise _bad(f"{where}.ImageInfoArray", "must be a list of 1 to 3 images")
    variants = []
    for j, info in enumerate(infos):
        at = f"{where}.ImageInfoArray[{j}]"
        if not isinstance(info, dict):
            raise _bad(at, "must be an object")
        for key in info:
            if key not in ("Type", "Size", "Width", "Height", "URL"):
                raise _bad(f"{at}.{key}", "unknown field")
        for key in ("Type", "URL"):
            if key not in info:
                raise _bad(f"{at}.{key}", "required")
        kind = _read(info["Type"], "int", f"{at}.Type")
        if kind not in VARIANT_TYPES:
            raise _bad(f"{at}.Type", "must be 1 (original), 2 (large) or 3 (thumbnail)")
        variants.append({
            "kind": VARIANT_TYPES[int(kind)],
            "url": _read(info["URL"], "str", f"{at}.URL"),
            "width": _read(info.get("Width", 0), "int", f"{at}.Width"),
            "height": _read(info.get("Height", 0), "int", f"{at}.Height"),
            "size": _read(info.get("Size", 0), "int", f"{at}.Size"),
        })
    return {"type": "image", "media_id": media_id, "format": fmt, "variants": variants}


def element_from_tencent(item: object, where: str = "MsgBody[0]") -> dict[str, Any]:
    """One MsgBody item as our element dict (not yet checked by the model)."""
    if not isinstance(item, dict):
        raise _bad(where, "must be an object with MsgType and MsgContent")
    for key in item:
        if key not in ("MsgType", "MsgContent"):
            raise _bad(f"{where}.{key}", "unknown field")
    msg_type = item.get("MsgType")
    if not isinstance(msg_type, str):
        raise _bad(f"{where}.MsgType", "required, a string")
    content = item.get("MsgContent")
    if not isinstance(content, dict):
        raise _bad(f"{where}.MsgContent", "required, an object")
    where = f"{where}.MsgContent"
    if msg_type == "TIMImageElem":
        return _image(content, where)
    spec = _SPECS.get(msg_type)
    if spec is None:
        raise _bad(where.rsplit(".", 1)[0] + ".MsgType",
                   f"unknown message type {msg_type!r}; one of {', '.join(MSG_TYPES)}")
    kind, fields, flags = spec
    known = {key for key, *_ in fields} | set(flags)
    for key in content:
        if key not in known:
            raise _bad(f"{where}.{key}", "unknown field")
    for flag in flags:
        if flag in content and (isinstance(content[flag], bool)
                                or content[flag] != DOWNLOAD_FLAG):
            raise _bad(f"{where}.{flag}", f"must be {DOWNLOAD_FLAG}")
    element: dict[str, Any] = {"type": kind}
    for key, name, how, default in fields:
        if key in content:
            element[name] = _read(content[key], how, f"{where}.{key}")
        elif default is _REQUIRED:
            raise _bad(f"{where}.{key}", "required")
        else:
            element[name] = default
    return element


_VARIANT_KEYS = {"kind": "Type", "url": "URL", "width": "Width", "height": "Height",
                 "size": "Size"}


def _tencent_path(msg_type: str, path: list[str]) -> str:
    """Our field path inside one element, spelled as in its MsgContent."""
    if not path:
        return ""
    first, rest = path[0], path[1:]
    if msg_type == "TIMImageElem":
        key = {"media_id": "UUID", "format": "ImageFormat",
               "variants": "ImageInfoArray"}.get(first, first)
        if key == "ImageInfoArray" and rest:
            out = f".{key}[{rest[0]}]"
            return out + "".join(f".{_VARIANT_KEYS.get(p, p)}" for p in rest[1:])
        return f".{key}"
    for key, name, _, _ in _SPECS.get(msg_type, ("", [], ()))[1]:
        if name == first:
            return f".{key}"
    return f".{first}"


def from_msgbody(body: object) -> list[Element]:
    """A Tencent MsgBody as our elements (validated and normalized), or 90002."""
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_ELEMENTS:
        raise _bad("MsgBody", f"must be a list of 1 to {MAX_ELEMENTS} elements")
    raw = [element_from_tencent(item, f"MsgBody[{i}]") for i, item in enumerate(body)]
    try:
        return ELEMENTS.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = list(first["loc"])
        index = loc[0] if loc and isinstance(loc[0], int) else 0
        msg_type = body[index]["MsgType"]
        rest = [str(p) for p in loc[2:]]  # past the index and the union tag
        where = f"MsgBody[{index}].MsgContent" + _tencent_path(msg_type, rest)
        raise _bad(where, first["msg"]) from exc


# -- Tencent's MsgRandom as our client message id -----------------------------------

# Tencent takes a repeat of ``MsgRandom`` (one-to-one) or ``Random`` (group) as
# the same message only within a short window: the same second for one-to-one
# sends (its sendmsg page: "deduplication within a second"), five minutes for
# group sends (send_group_msg: "the same content and random within five
# minutes"). Client libraries reuse random values, so the id also covers the
# content: a different message is never taken for a repeat. The window is a
# slot of the clock; the v4 edge also looks at the previous slot's recent ack
# (api/tencent_v4_messages.dedup_id), so a resend that crosses a slot's edge
# within the window is still the same message.
C2C_DEDUP_SECONDS = 1
GROUP_DEDUP_SECONDS = 300
# The imports' form (``v4~<random>~<digest>``), and the live sends' since
# links-ids (``v4.<slot's first second, 8 hex><random, 8 hex>~<digest>``).
_V4_ID = re.compile(r"^v4~(\d{1,10})~")
_V4_LIVE_ID = re.compile(r"^v4\.[0-9a-f]{8}([0-9a-f]{8})~")


def _digest(scope: str, window: int, body: object, cloud_custom_data: str) -> bytes:
    content = orjson.dumps([scope, window, body, cloud_custom_data],
                           option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(content).digest()


def v4_client_msg_id(random: int, scope: str, window: int, body: object,
                     cloud_custom_data: str) -> str:
    """Our client message id for a v4 import: the sender's ``random`` (read
    back by ``v4_random``), then a digest of where it goes (``scope``), the
    ``window`` it falls in (the message's own second) and its content (the
    MsgBody as sent, and the custom data). At most 3 + 10 + 1 + 40
    characters. An import's idempotence has no window (the same message
    imported again, any time later, is found), so this form stays what
    earlier versions stored; live sends use ``v4_live_id``."""
    digest = _digest(scope, window, body, cloud_custom_data)
    return f"v4~{random}~{digest.hex()[:40]}"


def v4_live_id(random: int, scope: str, window: int, seconds: int, body: object,
               cloud_custom_data: str, *, short: bool = False) -> str:
    """Our client message id for a live v4 send (``sendmsg``,
    ``batchsendmsg``, ``send_group_msg``) in dedup ``window`` (slots of
    ``seconds``): the slot's first second and the sender's ``random`` (8 hex
    digits each, so a sender's ids rise with time: a new one lands on the
    last pages of its dedup key, ``uq_messages_client_id``, where one led by
    the random lands on any page of the sender's history, bench/journal/perf-sat.md,
    "the dedup key's pages"), then ``v4_client_msg_id``'s digest. Every part
    is a function of the request and its slot, as before: a retry within
    the window maps to the same id. 60 characters; ``short``, 31 (a 64-bit
    digest in base64url), so a batch's ``<id>:<recipient>`` fits the
    64-character limit for any user id (admin_messaging.batch_client_msg_id)."""
    digest = _digest(scope, window, body, cloud_custom_data)
    tail = base64.urlsafe_b64encode(digest[:8]).decode()[:11] if short else digest.hex()[:40]
    return f"v4.{window * seconds:08x}{random:08x}~{tail}"


def v4_random(client_msg_id: str) -> int | None:
    """The sender's MsgRandom/Random of a message sent through v4, else None."""
    if found := _V4_LIVE_ID.match(client_msg_id):
        return int(found.group(1), 16)
    found = _V4_ID.match(client_msg_id)
    return int(found.group(1)) if found else None


# -- media by URL --------------------------------------------------------------------

_URL_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    # our type -> (our field, Tencent's key, required)
    "sound": (("url", "Url", True),),
    "file": (("url", "Url", True),),
    "video": (("url", "VideoUrl", True), ("poster_url", "ThumbUrl", False)),
}


def _web_url(value: str) -> bool:
    scheme, sep, rest = value.partition("://")
    return bool(sep) and scheme.lower() in ("http", "https") and bool(rest.split("/", 1)[0])


def check_media_urls(elements: Sequence[Element], uploads: Set[str] = frozenset()) -> None:
    """Media that a v4 MsgBody carries by URL (the app's own CDN) are stored
    and delivered as they are, so each URL must be a web address: http or
    https with a host (never ``javascript:``, ``file:`` or a relative path).
    90002 names the place otherwise. Elements naming one of ``uploads`` (the
    app's uploads to Tidings) are skipped: their URLs are replaced by ours."""
    for i, model in enumerate(elements):
        element = model.model_dump()
        if element.get("media_id") in uploads:
            continue
        where = f"MsgBody[{i}].MsgContent"
        kind = element.get("type")
        if kind == "image":
            for j, variant in enumerate(element.get("variants", ())):
                if not _web_url(str(variant.get("url", ""))):
                    raise _bad(f"{where}.ImageInfoArray[{j}].URL", "an http or https URL")
            continue
        for field, key, required in _URL_FIELDS.get(str(kind), ()):
            value = str(element.get(field, ""))
            if (value or required) and not _web_url(value):
                raise _bad(f"{where}.{key}", "an http or https URL")
