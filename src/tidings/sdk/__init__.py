"""The Python SDK for Tidings: an asyncio client of the public protocol.

    from tidings.sdk import Client, sign_usersig

    sig = sign_usersig(sdkappid, secret_key, "alice")   # on the app's server
    async with Client("ws://127.0.0.1:8080/v1/ws", sdkappid, "alice", sig) as alice:
        ack = await alice.send_text("c2c_bob", "hi")
        async for msg in alice.messages():
            print(msg.sender, msg.text)

The SDK speaks only the protocol of docs/protocol.md; it shares the domain
types (error codes, the UserSig codec) with the server and nothing else.
"""

from __future__ import annotations

from tidings.domain import link_tickets as _link_tickets
from tidings.domain import usersig as _usersig
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.sdk.callbacks import (
    CallbackSignatureError,
    verify_callback,
    verify_tencent_sign,
)
from tidings.sdk.client import Client, ClientClosed
from tidings.sdk.home import HomeAccounts, SignedIn
from tidings.sdk.models import (
    Ack,
    Change,
    Conversation,
    Entry,
    GroupSystem,
    HistoryPage,
    Message,
    Notice,
    ReadState,
    SearchPage,
    SearchResult,
)

DEFAULT_EXPIRE = _usersig.DEFAULT_EXPIRE


def sign_usersig(sdkappid: int, key: str, user_id: str, expire: int = DEFAULT_EXPIRE) -> str:
    """A login ticket for ``user_id``, valid for ``expire`` seconds from now.

    The same ticket Tencent's TLSSigAPIv2 ``gen_sig`` makes (same fields, same
    MAC), so an app server may use either. Sign on a server: the key must
    never reach a client device.
    """
    return _usersig.sign(sdkappid, key, user_id, expire)


MAX_LINK_TICKET_LIFETIME = _link_tickets.MAX_LINK_TICKET_LIFETIME


def sign_link_ticket(sdkappid: int, key: str, user_id: str,
                     expire: int = _link_tickets.DEFAULT_LINK_TICKET_LIFETIME) -> str:
    """A link ticket for ``user_id`` (docs/linked-identity.md), valid for
    ``expire`` seconds (at most 600) and for one link.

    The same ticket Tencent's TLSSigAPIv2 ``gen_sig_with_userbuf(user_id,
    expire, b"tidings:link:v1")`` makes. Sign on the app's server only.
    """
    return _link_tickets.sign_link_ticket(sdkappid, key, user_id, expire)


__all__ = [
    "DEFAULT_EXPIRE",
    "MAX_LINK_TICKET_LIFETIME",
    "Ack",
    "CallbackSignatureError",
    "Change",
    "Client",
    "ClientClosed",
    "Conversation",
    "Entry",
    "ErrorCode",
    "GroupSystem",
    "HistoryPage",
    "HomeAccounts",
    "Message",
    "Notice",
    "ReadState",
    "SearchPage",
    "SearchResult",
    "SignedIn",
    "TidingsError",
    "sign_link_ticket",
    "sign_usersig",
    "verify_callback",
    "verify_tencent_sign",
]
