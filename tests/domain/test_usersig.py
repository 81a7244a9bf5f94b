"""The UserSig codec (``tidings.domain.usersig``): a public, pure codec that
the SDK re-exports, so it is tested as a function, without a server.

Compatibility is checked against Tencent's own PyPI library (TLSSigAPIv2) in
both directions: its tickets verify with ours, and ours decode and re-sign
identically with its private MAC routine.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
import zlib

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from TLSSigAPIv2 import TLSSigAPIv2, base64_decode_url

from tidings.domain import usersig
from tidings.domain.errors import ErrorCode, TidingsError

KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
NOW = 1_700_000_000
REFUSED = {ErrorCode.USERSIG_INVALID, ErrorCode.USERSIG_BAD_SIGNATURE}
URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_"

user_ids = st.text(min_size=1, max_size=32).filter(lambda s: len(s.encode()) <= 32)
sdkappids = st.integers(min_value=1, max_value=2**63 - 1)
expiries = st.integers(min_value=1, max_value=10**10)
issue_times = st.integers(min_value=0, max_value=2**40)
userbufs = st.none() | st.binary(max_size=200)
keys = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


def code_of(ticket: str, keys: list[str], now: int) -> int | None:
    """The code a ticket is refused with, or None when it is accepted."""
    try:
        usersig.verify(usersig.parse(ticket), keys, now=now)
    except TidingsError as exc:
        return int(exc.code)
    return None


def changed_meaning(damaged: str, original: str, now: int) -> bool:
    """True when a damaged ticket is refused with a ticket code. A change
    that only flips bits the formats ignore (the spare bits of the last
    base64 character, the padding after the last deflate block) may pass,
    but only if it still reads as exactly the same claims."""
    code = code_of(damaged, [KEY], now)
    if code is None:
        return usersig.parse(damaged) == usersig.parse(original)
    return code in REFUSED


def tencent_doc(ticket: str) -> dict[str, object]:
    """Decode a ticket the way Tencent's library encodes one."""
    doc = json.loads(zlib.decompress(base64_decode_url(ticket.encode())))
    assert isinstance(doc, dict)
    return doc


def tencent_mac(api: TLSSigAPIv2, identifier: str, issued_at: int, expire: int,
                userbuf_b64: str | None) -> str:
    mac = api._TLSSigAPIv2__hmacsha256(identifier, issued_at, expire, userbuf_b64)  # type: ignore[attr-defined]
    return bytes.decode(mac)


# -- our own tickets ------------------------------------------------------------


@given(user=user_ids, sdkappid=sdkappids, expire=expiries, now=issue_times, userbuf=userbufs,
       key=keys)
@settings(max_examples=300)
def test_round_trip(user: str, sdkappid: int, expire: int, now: int, userbuf: bytes | None,
                    key: str) -> None:
    ticket = usersig.sign(sdkappid, key, user, expire, now=now, userbuf=userbuf)
    assert set(ticket) <= set(URL_ALPHABET)
    claims = usersig.parse(ticket)
    assert (claims.identifier, claims.sdkappid, claims.issued_at, claims.expire) == (
        user, sdkappid, now, expire)
    assert claims.userbuf == userbuf
    assert claims.expires_at == now + expire
    usersig.verify(claims, [key], now=now)
    usersig.verify(claims, [key], now=now + expire - 1)
    assert code_of(ticket, [key], now + expire) == ErrorCode.USERSIG_EXPIRED


@given(user=user_ids, sdkappid=sdkappids, expire=expiries, userbuf=userbufs)
@settings(max_examples=150)
def test_ours_decode_and_sign_like_tencent(user: str, sdkappid: int, expire: int,
                                           userbuf: bytes | None) -> None:
    """Our tickets decode with Tencent's decoder, carry Tencent's field names,
    and their MAC is the one Tencent's own routine computes."""
    ticket = usersig.sign(sdkappid, KEY, user, expire, now=NOW, userbuf=userbuf)
    doc = tencent_doc(ticket)
    assert doc["TLS.ver"] == "2.0"
    assert doc["TLS.identifier"] == user
    assert doc["TLS.sdkappid"] == sdkappid
    assert doc["TLS.time"] == NOW
    assert doc["TLS.expire"] == expire
    userbuf_b64 = base64.b64encode(userbuf).decode() if userbuf is not None else None
    assert doc.get("TLS.userbuf") == userbuf_b64
    api = TLSSigAPIv2(sdkappid, KEY)
    assert doc["TLS.sig"] == tencent_mac(api, user, NOW, expire, userbuf_b64)


# -- Tencent's tickets ----------------------------------------------------------


@given(user=user_ids, sdkappid=st.integers(1, 2**32), expire=expiries, key=keys)
@settings(max_examples=150)
def test_tencent_tickets_verify(user: str, sdkappid: int, expire: int, key: str) -> None:
    before = int(time.time())
    ticket = TLSSigAPIv2(sdkappid, key).gen_sig(user, expire)
    after = int(time.time())
    claims = usersig.parse(ticket)
    assert (claims.identifier, claims.sdkappid, claims.expire) == (user, sdkappid, expire)
    assert before <= claims.issued_at <= after
    assert claims.userbuf is None
    usersig.verify(claims, [key])
    # A key among others (rotation) still matches, wherever it stands.
    usersig.verify(claims, ["0" * 64, key, "f" * 64])


@given(user=user_ids, userbuf=st.binary(max_size=200))
@settings(max_examples=100)
def test_tencent_tickets_with_userbuf_verify(user: str, userbuf: bytes) -> None:
    ticket = TLSSigAPIv2(1400000001, KEY).gen_sig_with_userbuf(user, 86400, userbuf)
    claims = usersig.parse(ticket)
    assert claims.identifier == user and claims.userbuf == userbuf
    usersig.verify(claims, [KEY])


def test_tencent_ticket_with_wrong_key_is_refused_with_70009() -> None:
    ticket = TLSSigAPIv2(1400000001, KEY).gen_sig("alice", 86400)
    other = secrets.token_hex(32)
    assert code_of(ticket, [other], int(time.time())) == ErrorCode.USERSIG_BAD_SIGNATURE
    assert code_of(ticket, [], int(time.time())) == ErrorCode.USERSIG_BAD_SIGNATURE


def test_tencent_ticket_past_its_lifetime_is_refused_with_70001() -> None:
    ticket = TLSSigAPIv2(1400000001, KEY).gen_sig("alice", 60)
    issued = usersig.parse(ticket).issued_at
    assert code_of(ticket, [KEY], issued + 59) is None
    assert code_of(ticket, [KEY], issued + 60) == ErrorCode.USERSIG_EXPIRED
    assert code_of(ticket, [KEY], issued + 10**6) == ErrorCode.USERSIG_EXPIRED


def test_wrong_key_is_told_before_expiry() -> None:
    """An expired ticket with a bad MAC says nothing about its lifetime."""
    ticket = usersig.sign(1400000001, KEY, "alice", 10, now=NOW)
    assert code_of(ticket, ["0" * 64], NOW + 100) == ErrorCode.USERSIG_BAD_SIGNATURE


def test_fields_are_bound_by_the_mac() -> None:
    """Changing any signed field inside a well-formed ticket breaks the MAC."""
    good = tencent_doc(usersig.sign(1400000001, KEY, "alice", 86400, now=NOW, userbuf=b"x"))
    changes: list[tuple[str, object]] = [
        ("TLS.identifier", "mallory"), ("TLS.sdkappid", 1400000002), ("TLS.time", NOW + 1),
        ("TLS.expire", 86400 * 365), ("TLS.userbuf", base64.b64encode(b"y").decode()),
    ]
    for field, value in changes:
        doc = dict(good)
        doc[field] = value
        forged = base64.b64encode(zlib.compress(json.dumps(doc).encode())).decode()
        forged = forged.translate(str.maketrans("+/=", "*-_"))
        assert code_of(forged, [KEY], NOW) == ErrorCode.USERSIG_BAD_SIGNATURE, field
    doc = dict(good)
    del doc["TLS.userbuf"]
    forged = base64.b64encode(zlib.compress(json.dumps(doc).encode())).decode()
    forged = forged.translate(str.maketrans("+/=", "*-_"))
    assert code_of(forged, [KEY], NOW) == ErrorCode.USERSIG_BAD_SIGNATURE


# -- damaged tickets --------------------------------------------------------------

# Hypothesis replays a failing example and needs the same data each time: a
# ticket signed with the wall clock could change length between replays.
SIGNED_AT = int(time.time())


@functools.cache
def official_ticket(user: str) -> str:
    return str(TLSSigAPIv2(1400000001, KEY).gen_sig(user, 86400))


@st.composite
def signed(draw: st.DrawFn) -> str:
    user = draw(user_ids)
    if draw(st.booleans()):
        return official_ticket(user)
    return usersig.sign(1400000001, KEY, user, 86400, now=SIGNED_AT, userbuf=draw(userbufs))


@given(ticket=signed(), data=st.data())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_any_single_character_change_is_refused_or_meaningless(ticket: str,
                                                               data: st.DataObject) -> None:
    assert code_of(ticket, [KEY], int(time.time())) is None
    at = data.draw(st.integers(0, len(ticket) - 1), label="at")
    replacement = data.draw(st.sampled_from(URL_ALPHABET) | st.characters(), label="char")
    assume(replacement != ticket[at])
    damaged = ticket[:at] + replacement + ticket[at + 1:]
    assert changed_meaning(damaged, ticket, int(time.time()))


def test_every_single_character_change_of_one_ticket_is_refused() -> None:
    """Exhaustive on one ticket: every position, every alphabet character."""
    ticket = usersig.sign(1400000001, KEY, "alice", 86400, now=NOW)
    refused = 0
    for at in range(len(ticket)):
        for replacement in URL_ALPHABET:
            if replacement == ticket[at]:
                continue
            damaged = ticket[:at] + replacement + ticket[at + 1:]
            assert changed_meaning(damaged, ticket, NOW), (at, replacement)
            refused += code_of(damaged, [KEY], NOW) is not None
    # Spare bits are a handful of characters; everything else is refused.
    assert refused >= (len(ticket) - 2) * (len(URL_ALPHABET) - 1)


@given(ticket=signed(), data=st.data())
@settings(max_examples=300)
def test_any_truncation_is_refused(ticket: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(1, len(ticket) - 1), label="cut")
    assert code_of(ticket[:cut], [KEY], int(time.time())) in REFUSED
    # Cutting from the front is no better.
    assert code_of(ticket[len(ticket) - cut:], [KEY], int(time.time())) in REFUSED


def test_every_truncation_of_one_ticket_is_refused() -> None:
    for make in (lambda: usersig.sign(1400000001, KEY, "alice", 86400, now=NOW),
                 lambda: TLSSigAPIv2(1400000001, KEY).gen_sig("alice", 86400)):
        ticket = make()
        for cut in range(1, len(ticket)):
            assert code_of(ticket[:cut], [KEY], NOW) in REFUSED, cut


def test_empty_ticket_is_missing() -> None:
    with pytest.raises(TidingsError) as caught:
        usersig.parse("")
    assert caught.value.code is ErrorCode.USERSIG_MISSING


@given(text=st.text(max_size=300) | st.text(alphabet=URL_ALPHABET, max_size=300))
@settings(max_examples=300)
@example(text="*" * 5000)
@example(text="eJyrVgrxCFayUkosKlIqBgAhkAQz")  # zlib of {"a":1}-like, not a ticket
def test_arbitrary_text_is_refused_cleanly(text: str) -> None:
    assume(text)
    assert code_of(text, [KEY], NOW) in REFUSED


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8,
)
field_values = (json_values | st.integers(0, 2**40).map(str)
                | st.sampled_from(["", "²", "١٢٣", "+1", "-5", " 7", "9" * 25, "AAAA", "@@"]))


def encode(doc: object) -> str:
    raw = zlib.compress(json.dumps(doc).encode())
    return base64.b64encode(raw).decode().translate(str.maketrans("+/=", "*-_"))


@given(doc=st.fixed_dictionaries({}, optional={
    "TLS.ver": field_values, "TLS.identifier": field_values, "TLS.sdkappid": field_values,
    "TLS.time": field_values, "TLS.expire": field_values, "TLS.sig": field_values,
    "TLS.userbuf": field_values,
}) | json_values)
@settings(max_examples=300)
@example(doc={"TLS.identifier": "a", "TLS.sig": "x", "TLS.sdkappid": "²", "TLS.time": 1,
              "TLS.expire": 1})
@example(doc={"TLS.identifier": "a", "TLS.sig": "x", "TLS.sdkappid": 1, "TLS.time": "١٢٣",
              "TLS.expire": 1})
def test_well_formed_but_wrong_documents_are_refused_cleanly(doc: object) -> None:
    """A ticket whose envelope is fine but whose JSON is anything at all is
    refused with a ticket code, never another exception."""
    assert code_of(encode(doc), [KEY], NOW) in REFUSED


def test_oversized_and_zip_bomb_tickets_are_refused() -> None:
    assert code_of("A" * (usersig.MAX_TICKET_CHARS + 4), [KEY], NOW) in REFUSED
    bomb = encode({"TLS.identifier": "a" * 100_000, "TLS.sig": "x"})
    assert len(bomb) <= usersig.MAX_TICKET_CHARS
    assert code_of(bomb, [KEY], NOW) == ErrorCode.USERSIG_INVALID


def test_numbers_written_as_strings_are_accepted() -> None:
    """Some signers write the integers as decimal strings; the MAC text is the same."""
    api = TLSSigAPIv2(1400000001, KEY)
    doc = {"TLS.ver": "2.0", "TLS.identifier": "alice", "TLS.sdkappid": "1400000001",
           "TLS.expire": "86400", "TLS.time": str(NOW),
           "TLS.sig": tencent_mac(api, "alice", NOW, 86400, None)}
    claims = usersig.parse(encode(doc))
    assert (claims.sdkappid, claims.expire, claims.issued_at) == (1400000001, 86400, NOW)
    usersig.verify(claims, [KEY], now=NOW)
