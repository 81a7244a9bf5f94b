"""Links as clients see them (docs/linked-identity.md): what a link request
carries, and how a home device names a conversation of a linked identity.

A home device sees the conversations of its linked identities under
qualified ids, ``app:<sdkappid>:<conversation id in that app>`` (e.g.
``app:1400000001:c2c_bob``): never equal to one of its own conversation ids
(``c2c_``/``group_``), and it says which identity speaks, since a home
account links at most one identity per app.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.requests import Payload

QUALIFIED_PREFIX = "app:"
LinkAction = Literal["chat", "friend"]


class LinkTicketIn(Payload):
    """A link request as the link URL carries it."""

    sdkappid: int = Field(ge=1, le=2**63 - 1, examples=[1400000001])
    ticket: str = Field(max_length=4096, description="The link ticket the app's server signed")
    to: str | None = Field(None, max_length=64, examples=["bob"],
                           description="Another user of that app to chat with or befriend")
    action: LinkAction | None = Field(None, description="``chat`` (the default with ``to``) "
                                                        "or ``friend``")


def qualify(sdkappid: int, conversation_id: str) -> str:
    return f"{QUALIFIED_PREFIX}{sdkappid}:{conversation_id}"


def unqualify(qualified: object) -> tuple[int, str]:
    """``app:<sdkappid>:<id>`` -> (sdkappid, id); the id is checked later,
    as the app's own client would have it checked."""
    if isinstance(qualified, str) and qualified.startswith(QUALIFIED_PREFIX):
        number, sep, rest = qualified[len(QUALIFIED_PREFIX):].partition(":")
        if sep and number.isascii() and number.isdecimal() and len(number) <= 19 and rest:
            return int(number), rest
    raise TidingsError(ErrorCode.INVALID_CONVERSATION_ID,
                       "a linked conversation id reads 'app:<sdkappid>:<conversation id>'")
