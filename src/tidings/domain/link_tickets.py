"""Link tickets: an app's server vouches that one of its users may be linked
to a home account (issue 5, docs/linked-identity.md).

A link ticket is a UserSig (same fields, same MAC, so Tencent's TLSSigAPIv2
libraries make it with ``gen_sig_with_userbuf``) whose userbuf is exactly
``LINK_PURPOSE``. The purpose keeps the two kinds of ticket apart both ways: a
login refuses a link ticket, and a link refuses a plain UserSig. It lives at
most ``MAX_LINK_TICKET_LIFETIME`` seconds and is good for one link.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from tidings.domain import usersig
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.ids import check_user_id

LINK_PURPOSE = b"tidings:link:v1"
MAX_LINK_TICKET_LIFETIME = 600
DEFAULT_LINK_TICKET_LIFETIME = 300


def is_link_ticket(claims: usersig.UserSigClaims) -> bool:
    return claims.userbuf == LINK_PURPOSE


def sign_link_ticket(sdkappid: int, key: str, user_id: str,
                     expire: int = DEFAULT_LINK_TICKET_LIFETIME, *,
                     now: int | None = None) -> str:
    """A link ticket for ``user_id`` (on the app's server, never a client)."""
    if not 0 < expire <= MAX_LINK_TICKET_LIFETIME:
        raise ValueError(f"a link ticket lives 1 to {MAX_LINK_TICKET_LIFETIME} seconds")
    return usersig.sign(sdkappid, key, user_id, expire, now=now, userbuf=LINK_PURPOSE)


def parse_link_ticket(ticket: object, sdkappid: int) -> usersig.UserSigClaims:
    """Decode and check the shape (not the MAC): a link ticket of this app,
    for a valid user id, with a lifetime of at most 10 minutes."""
    if not isinstance(ticket, str) or not ticket:
        raise TidingsError(ErrorCode.LINK_TICKET_INVALID, "the link ticket is missing")
    try:
        claims = usersig.parse(ticket)
    except TidingsError as exc:
        raise TidingsError(ErrorCode.LINK_TICKET_INVALID,
                           f"not a link ticket: {exc.message}") from exc
    if not is_link_ticket(claims):
        raise TidingsError(ErrorCode.LINK_TICKET_INVALID,
                           "this is a UserSig, not a link ticket (its userbuf must be "
                           f"{LINK_PURPOSE.decode()!r})")
    if claims.sdkappid != sdkappid:
        raise TidingsError(ErrorCode.LINK_TICKET_APP_MISMATCH,
                           f"the link ticket was signed for app {claims.sdkappid}, "
                           f"not {sdkappid}")
    if not 0 < claims.expire <= MAX_LINK_TICKET_LIFETIME:
        raise TidingsError(ErrorCode.LINK_TICKET_INVALID,
                           f"a link ticket may live at most {MAX_LINK_TICKET_LIFETIME} s; "
                           f"this one says {claims.expire} s")
    try:
        check_user_id(claims.identifier)
    except TidingsError as exc:
        raise TidingsError(ErrorCode.LINK_TICKET_INVALID, exc.message) from exc
    return claims


def verify_link_ticket(claims: usersig.UserSigClaims, keys: Iterable[str], *,
                       now: int | None = None) -> None:
    """The MAC against the app's live keys, then the lifetime (and a ticket
    from the future is as suspect as an old one)."""
    current = int(time.time()) if now is None else now
    try:
        usersig.verify(claims, keys, now=current)
    except TidingsError as exc:
        if exc.code is ErrorCode.USERSIG_EXPIRED:
            raise TidingsError(ErrorCode.LINK_TICKET_EXPIRED,
                               "the link ticket has expired; ask the app for a new link") from exc
        raise TidingsError(ErrorCode.LINK_TICKET_BAD_SIGNATURE,
                           "the link ticket's signature does not match the app's key") from exc
    if claims.issued_at > current + 300:
        raise TidingsError(ErrorCode.LINK_TICKET_INVALID, "the link ticket is from the future")
