"""Uploaded media: what a file is (from its bytes), which kinds an app takes,
which uploads a message names, and the signed download URLs. No I/O.

The type of an upload comes from its first bytes (magic numbers), never from
the name or the ``Content-Type`` a client sends: a script named ``cat.jpg``
is a file, served as an attachment, and is refused where an image is asked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

import orjson

from tidings.domain.errors import ErrorCode, TidingsError

# How many first bytes ``sniff`` needs to tell every type it knows.
SNIFF_BYTES = 64


class MediaKind(StrEnum):
    IMAGE = "image"
    SOUND = "sound"
    VIDEO = "video"
    FILE = "file"


ALL_KINDS: frozenset[MediaKind] = frozenset(MediaKind)


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: MediaKind
    mime: str
    # Short format name: "jpg", "png", "gif", "webp", "ogg", "wav", "mp4", ...
    format: str


OCTET_STREAM = Sniffed(MediaKind.FILE, "application/octet-stream", "")

_MP4_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A "}


def sniff(head: bytes) -> Sniffed:
    """The type of a file from its first ``SNIFF_BYTES`` bytes."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(MediaKind.IMAGE, "image/jpeg", "jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(MediaKind.IMAGE, "image/png", "png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed(MediaKind.IMAGE, "image/gif", "gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(MediaKind.IMAGE, "image/webp", "webp")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed(MediaKind.SOUND, "audio/wav", "wav")
    if head.startswith(b"OggS"):
        return Sniffed(MediaKind.SOUND, "audio/ogg", "ogg")
    if head.startswith(b"fLaC"):
        return Sniffed(MediaKind.SOUND, "audio/flac", "flac")
    if head.startswith(b"#!AMR"):
        return Sniffed(MediaKind.SOUND, "audio/amr", "amr")
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF
                                   and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return Sniffed(MediaKind.SOUND, "audio/mpeg", "mp3")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _MP4_AUDIO_BRANDS:
            return Sniffed(MediaKind.SOUND, "audio/mp4", "m4a")
        if brand == b"qt  ":
            return Sniffed(MediaKind.VIDEO, "video/quicktime", "mov")
        return Sniffed(MediaKind.VIDEO, "video/mp4", "mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed(MediaKind.VIDEO, "video/webm", "webm")
    return OCTET_STREAM


def check_kind(asked: MediaKind | None, found: Sniffed) -> MediaKind:
    """The kind an upload is stored as: what its bytes are. A file may be
    anything; an image, a sound or a video must be one by its bytes."""
    if asked is None:
        return found.kind
    if asked is MediaKind.FILE:
        return MediaKind.FILE
    if found.kind is not asked:
        what = found.format or "not a known media type"
        raise TidingsError(ErrorCode.MEDIA_TYPE_MISMATCH,
                           f"the bytes are not {'an' if asked is MediaKind.IMAGE else 'a'} "
                           f"{asked.value} ({what}); images are JPEG, PNG, GIF or WebP")
    return asked


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    """An app's limits on uploads (``app_media_settings``, else defaults)."""

    max_bytes: int
    kinds: frozenset[MediaKind]
    # Keep the EXIF location (GPS) of images; stripped by default.
    keep_location: bool = False

    def check_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise TidingsError(ErrorCode.MEDIA_TOO_LARGE,
                               f"the file is {size} bytes; this app takes at most "
                               f"{self.max_bytes}")

    def check_kind(self, kind: MediaKind) -> None:
        if kind not in self.kinds:
            allowed = ", ".join(sorted(k.value for k in self.kinds)) or "none"
            raise TidingsError(ErrorCode.MEDIA_KIND_NOT_ALLOWED,
                               f"this app does not take {kind.value} uploads "
                               f"(it takes: {allowed})")


# -- which uploads a message names ----------------------------------------------------

# Ours are 21 characters; a longer or odder id names no upload of ours.
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MEDIA_ID_FIELDS = ("media_id", "poster_media_id")
# In the elements' JSON text of every message that names an upload (both
# fields end so): most messages are told apart by this probe alone.
MEDIA_PROBE = 'media_id":"'


def valid_media_id(media_id: str) -> bool:
    return bool(_ID_RE.match(media_id))


def media_ids(elements_json: str | bytes) -> tuple[str, ...]:
    """The upload ids a message's elements name, in order, without repeats.
    Most messages name none: they are told apart without parsing."""
    if isinstance(elements_json, str):
        # Asked before the encode (ASCII: the same answer in either form):
        # the writer asks it of every message it stores.
        if MEDIA_PROBE not in elements_json:
            return ()
        probe = elements_json.encode()
    else:
        probe = elements_json
    if b'media_id":"' not in probe or probe.count(b'media_id":""') == probe.count(
            b'media_id":"'):
        return ()
    found: dict[str, None] = {}
    for element in orjson.loads(probe):
        if isinstance(element, dict):
            for field in MEDIA_ID_FIELDS:
                value = element.get(field)
                if isinstance(value, str) and valid_media_id(value):
                    found[value] = None
    return tuple(found)


# -- signed download URLs -------------------------------------------------------------

VARIANTS = ("original", "large", "thumb", "poster")


def url_signature(secret: bytes, media_id: str, variant: str, expires: int) -> str:
    mac = hmac.new(secret, f"{media_id}\n{variant}\n{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode()


def check_url(secret: bytes, media_id: str, variant: str, expires: int, sig: str,
              now_s: int) -> None:
    """Refuse a download URL that was not made here, or made for another
    file or variant (95005), or whose time is up (95004)."""
    good = url_signature(secret, media_id, variant, expires)
    if not hmac.compare_digest(good.encode(), sig.encode()):
        raise TidingsError(ErrorCode.MEDIA_URL_INVALID, "this download URL is not valid")
    if now_s > expires:
        raise TidingsError(ErrorCode.MEDIA_URL_EXPIRED,
                           "this download URL has expired; ask for a new one")


# -- HTTP ranges --------------------------------------------------------------------


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` as (first, last) inclusive, or None for the whole
    file (no header, or several ranges: the whole file is a valid answer).
    An unsatisfiable range raises 95011 (HTTP 416)."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first_s == "":
            n = int(last_s)
            if n <= 0:
                raise ValueError
            first, last = max(0, size - n), size - 1
        else:
            first = int(first_s)
            last = size - 1 if last_s == "" else min(int(last_s), size - 1)
    except ValueError:
        return None
    if first < 0 or first >= size or last < first:
        raise TidingsError(ErrorCode.RANGE_NOT_SATISFIABLE,
                           f"the range {spec.strip()!r} is outside the file ({size} bytes)")
    return first, last


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def clean_name(name: str) -> str:
    """A file name as stored and offered for download: no path, no control
    characters, at most 200 characters."""
    name = _UNSAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip()
    return name[:200]
