"""The UserSig login ticket, byte-compatible with Tencent's TLSSigAPIv2.

A ticket is base64 (with ``+/=`` spelled ``*-_``) of zlib-compressed JSON that
carries the identifier, sdkappid, issue time, lifetime and an HMAC-SHA256 over
a fixed text. We parse and recompute the MAC rather than compare bytes, since
signers in other languages format the JSON differently.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from tidings.domain.errors import ErrorCode, TidingsError

DEFAULT_EXPIRE = 180 * 86400
# A real ticket is a few hundred bytes; anything far larger is hostile.
MAX_TICKET_CHARS = 4096
MAX_INFLATED_BYTES = 8192

_TO_URL = str.maketrans("+/=", "*-_")
_FROM_URL = str.maketrans("*-_", "+/=")


@dataclass(frozen=True, slots=True)
class UserSigClaims:
    identifier: str
    sdkappid: int
    issued_at: int
    expire: int
    sig: str
    userbuf: bytes | None = None
    userbuf_b64: str | None = None

    @property
    def expires_at(self) -> int:
        return self.issued_at + self.expire


def _signed_text(identifier: str, sdkappid: int, issued_at: int, expire: int,
                 userbuf_b64: str | None) -> bytes:
    text = (
        f"TLS.identifier:{identifier}\n"
        f"TLS.sdkappid:{sdkappid}\n"
        f"TLS.time:{issued_at}\n"
        f"TLS.expire:{expire}\n"
    )
    if userbuf_b64 is not None:
        text += f"TLS.userbuf:{userbuf_b64}\n"
    return text.encode()


def _mac(key: str, text: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), text, hashlib.sha256).digest()).decode()


def sign(sdkappid: int, key: str, identifier: str, expire: int = DEFAULT_EXPIRE,
         *, now: int | None = None, userbuf: bytes | None = None) -> str:
    """Make a ticket that Tencent's TLSSigAPIv2 libraries also accept."""
    issued_at = int(time.time()) if now is None else now
    userbuf_b64 = base64.b64encode(userbuf).decode() if userbuf is not None else None
    doc: dict[str, object] = {
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdkappid,
        "TLS.expire": expire,
        "TLS.time": issued_at,
    }
    if userbuf_b64 is not None:
        doc["TLS.userbuf"] = userbuf_b64
    doc["TLS.sig"] = _mac(key, _signed_text(identifier, sdkappid, issued_at, expire, userbuf_b64))
    raw = zlib.compress(orjson.dumps(doc))
    return base64.b64encode(raw).decode().translate(_TO_URL)


def _invalid(why: str) -> TidingsError:
    return TidingsError(ErrorCode.USERSIG_INVALID, f"UserSig is invalid: {why}")


def _int_field(doc: dict[str, object], name: str) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        # Some signers write numbers as strings; accept only clean decimals.
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
            return int(value)
        raise _invalid(f"{name} must be an integer")
    return value


def parse(ticket: str) -> UserSigClaims:
    """Decode a ticket without checking its signature."""
    if not ticket:
        raise TidingsError(ErrorCode.USERSIG_MISSING, "UserSig is empty")
    if len(ticket) > MAX_TICKET_CHARS:
        raise _invalid("too long")
    try:
        compressed = base64.b64decode(ticket.translate(_FROM_URL), validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, MAX_INFLATED_BYTES)
        if inflater.unconsumed_tail:
            raise _invalid("too large once inflated")
        if not inflater.eof or inflater.unused_data:
            # A cut ticket inflates to a prefix; bytes after the end are not ours.
            raise _invalid("truncated or followed by extra bytes")
        doc = orjson.loads(raw)
    except (binascii.Error, ValueError, zlib.error, UnicodeError) as exc:
        raise _invalid("not a TLSSigAPIv2 ticket") from exc
    if not isinstance(doc, dict):
        raise _invalid("not a JSON object")
    identifier = doc.get("TLS.identifier")
    sig = doc.get("TLS.sig")
    if not isinstance(identifier, str) or not isinstance(sig, str):
        raise _invalid("identifier or sig missing")
    userbuf_b64 = doc.get("TLS.userbuf")
    userbuf: bytes | None = None
    if userbuf_b64 is not None:
        if not isinstance(userbuf_b64, str):
            raise _invalid("userbuf must be base64 text")
        try:
            userbuf = base64.b64decode(userbuf_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _invalid("userbuf is not base64") from exc
    expire = _int_field(doc, "TLS.expire")
    issued_at = _int_field(doc, "TLS.time")
    return UserSigClaims(
        identifier=identifier,
        sdkappid=_int_field(doc, "TLS.sdkappid"),
        issued_at=issued_at,
        expire=expire,
        sig=sig,
        userbuf=userbuf,
        userbuf_b64=userbuf_b64,
    )


def verify(claims: UserSigClaims, keys: Iterable[str], *, now: int | None = None) -> None:
    """Check the MAC against any of the app's live keys, then the lifetime."""
    text = _signed_text(claims.identifier, claims.sdkappid, claims.issued_at, claims.expire,
                        claims.userbuf_b64)
    given = claims.sig.encode()
    # Every key is tried, so the time taken does not tell which key matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(_mac(key, text).encode(), given)
    if not matched:
        raise TidingsError(ErrorCode.USERSIG_BAD_SIGNATURE,
                           "UserSig signature does not match the app's secret key")
    check_lifetime(claims, now=now)


def check_lifetime(claims: UserSigClaims, *, now: int | None = None) -> None:
    current = int(time.time()) if now is None else now
    if current >= claims.expires_at:
        raise TidingsError(ErrorCode.USERSIG_EXPIRED, "UserSig has expired")
