"""Link tickets (``tidings.domain.link_tickets``): made by Tencent's own
library through its userbuf variant, and by the SDK helper; refused when
they are of another purpose, another app, too long-lived, expired or forged."""

from __future__ import annotations

import time

import pytest
from TLSSigAPIv2 import TLSSigAPIv2

from tidings.domain import link_tickets, usersig
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.sdk import sign_link_ticket, sign_usersig

KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
APP = 1400000001


def check(ticket: str, sdkappid: int = APP, key: str = KEY, now: int | None = None
          ) -> usersig.UserSigClaims:
    claims = link_tickets.parse_link_ticket(ticket, sdkappid)
    link_tickets.verify_link_ticket(claims, [key], now=now)
    return claims


def code_of(ticket: str, **kw: object) -> ErrorCode:
    with pytest.raises(TidingsError) as caught:
        check(ticket, **kw)  # type: ignore[arg-type]
    return caught.value.code


def test_tencents_userbuf_variant_makes_a_link_ticket() -> None:
    ticket = TLSSigAPIv2(APP, KEY).gen_sig_with_userbuf("bob", 600, link_tickets.LINK_PURPOSE)
    claims = check(ticket)
    assert (claims.identifier, claims.sdkappid, claims.expire) == ("bob", APP, 600)


def test_the_sdk_helper_makes_the_same_kind_of_ticket() -> None:
    claims = check(sign_link_ticket(APP, KEY, "bob", 120))
    assert claims.identifier == "bob" and claims.expire == 120
    with pytest.raises(ValueError, match="600"):
        sign_link_ticket(APP, KEY, "bob", 601)


def test_a_usersig_is_not_a_link_ticket() -> None:
    assert code_of(sign_usersig(APP, KEY, "bob")) is ErrorCode.LINK_TICKET_INVALID
    other = TLSSigAPIv2(APP, KEY).gen_sig_with_userbuf("bob", 300, b"room:42")
    assert code_of(other) is ErrorCode.LINK_TICKET_INVALID


def test_lifetime_over_ten_minutes_is_refused() -> None:
    ticket = TLSSigAPIv2(APP, KEY).gen_sig_with_userbuf("bob", 3600, link_tickets.LINK_PURPOSE)
    assert code_of(ticket) is ErrorCode.LINK_TICKET_INVALID


def test_other_app_expired_forged_and_garbage() -> None:
    assert code_of(sign_link_ticket(APP + 1, KEY, "bob")) is ErrorCode.LINK_TICKET_APP_MISMATCH
    old = link_tickets.sign_link_ticket(APP, KEY, "bob", 60, now=int(time.time()) - 61)
    assert code_of(old) is ErrorCode.LINK_TICKET_EXPIRED
    forged = sign_link_ticket(APP, "0" * 64, "bob")
    assert code_of(forged) is ErrorCode.LINK_TICKET_BAD_SIGNATURE
    future = link_tickets.sign_link_ticket(APP, KEY, "bob", 60, now=int(time.time()) + 3600)
    assert code_of(future) is ErrorCode.LINK_TICKET_INVALID
    for junk in ("", "not-a-ticket", "*" * 5000):
        assert code_of(junk) is ErrorCode.LINK_TICKET_INVALID
