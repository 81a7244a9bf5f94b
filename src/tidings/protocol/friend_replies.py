"""Replies of the friend ops (docs/friends.md, "Ops"): apart from
replies.py because they hold the friend view that the events declare (and
events.py imports replies.py)."""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

from tidings.protocol.events import FriendRequestView, FriendView


class FriendAddReply(TypedDict):
    """``added``: now friends; ``pending``: a request waits for the other's
    answer; ``friends``: they were already (docs/friends.md)."""

    result: Literal["added", "pending", "friends"]
    user_id: str


class FriendsReply(TypedDict):
    friends: list[FriendView]


class BlockedView(TypedDict):
    user_id: str
    since: int


class BlocklistReply(TypedDict):
    blocked: list[BlockedView]


class FriendRequestsReply(TypedDict):
    """The pending requests to the user and the user's own."""

    incoming: list[FriendRequestView]
    outgoing: list[FriendRequestView]


class Unblocked(TypedDict):
    removed: list[str]
    not_blocked: list[str]


class FriendsDeleted(TypedDict):
    deleted: list[str]
    not_friends: list[str]


class FriendDeclined(TypedDict):
    user_id: str
    declined: bool


class FriendWithdrawn(TypedDict):
    user_id: str
    withdrawn: bool
