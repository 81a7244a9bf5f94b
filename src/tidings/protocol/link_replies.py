"""Replies of the link ops (docs/linked-identity.md): previewing and
confirming a link ticket, listing and removing links, and the linked
identities' conversations. Apart from replies.py because they hold the link
view that the ``link_added`` event declares (and events.py imports replies.py)."""

from __future__ import annotations

from typing import Literal, NotRequired

from typing_extensions import TypedDict

from tidings.protocol.events import LinkAddedEvent
from tidings.protocol.views import AppCard, ConversationView, UserCard


class LinkPreview(TypedDict):
    """What confirming the ticket would do, changing nothing: ``target`` and
    ``action`` are null without a target; ``replaces``: the app user this
    account is linked as now in that app, when confirming would replace it."""

    app: AppCard
    user: UserCard
    target: UserCard | None
    action: Literal["chat", "friend"] | None
    linked: bool
    replaces: str | None
    expires_at: int


class LinkView(TypedDict):
    """One link of the home account: the app, who the person is there, since when (ms)."""

    app: AppCard
    user: UserCard
    since: int


class LinkError(TypedDict):
    """Why the friend request of a link's action was not sent (the link is
    made): the error as an op's error answers it."""

    code: int
    name: str
    message: str


class LinkAction(TypedDict):
    """What the ticket's action did: the conversation to open, and for
    ``friend`` the friend request's answer, or ``error`` when it was refused."""

    action: Literal["chat", "friend"]
    conversation_id: str
    result: NotRequired[Literal["added", "pending", "friends"]]
    user_id: NotRequired[str]
    error: NotRequired[LinkError]


class LinkConfirmed(TypedDict):
    """The link made (``link.replaced``: it replaced one) and its action's result."""

    link: LinkAddedEvent
    action: LinkAction | None


class LinksReply(TypedDict):
    links: list[LinkView]


class Unlinked(TypedDict):
    sdkappid: int
    user_id: str
    unlinked: bool


# Functional form: ``as`` (who the person is in that app) is a Python keyword.
LinkedApp = TypedDict("LinkedApp", {"app": AppCard, "as": UserCard,
                                    "conversations": list[ConversationView]})


class LinkConversationsReply(TypedDict):
    """The conversations of each linked identity, grouped by app; their ids
    are qualified by app (``app:<sdkappid>:c2c_bob``) and one-to-one ones
    carry ``peer_card``, the peer as the app set them."""

    apps: list[LinkedApp]
