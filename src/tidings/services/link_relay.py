"""Relaying to a home account what an identity linked to it receives
(docs/linked-identity.md): every frame for the identity also goes to each
connected device of the home account, its conversation ids qualified by
app, with the identity's label and the cards of the app users it shows.
Cards are cached for ``CARD_TTL``; a frame whose cards must be read first
waits, and the frames after it wait behind it, so they keep their order."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import orjson

from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.ids import Identity
from tidings.domain.links import qualify

log = logging.getLogger("tidings.services.links")

# How long a relayed frame's cards of app users are reused (seconds): an
# app's profile change shows in relayed frames within this time.
CARD_TTL = 30.0
_Queued = tuple[Identity, bytes, "int | None", int, "Subscriber | None"]
UserCards = Callable[[int, list[str]], Awaitable[dict[str, dict[str, Any]]]]


class LinkRelay:
    """The bus's relay (``LocalBus.relay``) for linked identities."""

    def __init__(self, bus: LocalBus, home_sdkappid: int, home_of: dict[Identity, str],
                 labels: dict[Identity, dict[str, Any]], user_cards: UserCards) -> None:
        self._bus = bus
        self.home_sdkappid = home_sdkappid
        # The link service's maps (it changes them; the relay reads them).
        self._home_of = home_of
        self._labels = labels
        self._user_cards = user_cards
        self._cards: dict[Identity, tuple[float, dict[str, Any]]] = {}
        # Relayed frames waiting for cards, per home account, in order.
        self._queues: dict[str, deque[_Queued]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def home(self, identity: Identity) -> Identity | None:
        """The home account linked to ``identity``, if any."""
        home_user = self._home_of.get(identity)
        return None if home_user is None else Identity(self.home_sdkappid, home_user)

    def forget_cards(self, sdkappid: int) -> None:
        """The app's cards are read again (its profile settings changed)."""
        for identity in [i for i in self._cards if i.sdkappid == sdkappid]:
            del self._cards[identity]

    def relay(self, identity: Identity, frame: bytes | Callable[[], bytes],
               conversation_id: int | None, seq: int, skip: Subscriber | None) -> int:
        """A frame for a linked identity also goes to every connected device
        of its home account: conversation ids qualified by app, the
        identity's label (``link``), and the cards of the app users in it
        (``sender_card``, ``peer_card``). Cards not cached are read first;
        meanwhile later frames for that home account wait behind, so they
        keep their order."""
        home_user = self._home_of.get(identity)
        if home_user is None:
            return 0
        home = Identity(self.home_sdkappid, home_user)
        devices = sum(1 for d in self._bus.devices(home) if d is not skip)
        if not devices:
            return 0
        raw = frame if isinstance(frame, bytes) else frame()
        queue = self._queues.get(home_user)
        if queue is None:
            doc = orjson.loads(raw)
            cards = self._cached_cards(identity.sdkappid, _card_users(doc.get("data")))
            if cards is not None:
                self._push(home, identity, doc, cards, conversation_id, seq, skip)
                return devices
            queue = self._queues[home_user] = deque()
            task = asyncio.create_task(self._drain(home_user))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        queue.append((identity, raw, conversation_id, seq, skip))
        return devices

    async def _drain(self, home_user: str) -> None:
        queue = self._queues[home_user]
        home = Identity(self.home_sdkappid, home_user)
        try:
            while queue:
                identity, raw, conversation_id, seq, skip = queue[0]
                doc = orjson.loads(raw)
                users = _card_users(doc.get("data"))
                try:
                    cards = await self._fresh_cards(identity.sdkappid, users)
                except Exception:  # a relay must not stop on a card
                    log.exception("cards for %s failed", identity)
                    cards = {}
                self._push(home, identity, doc, cards, conversation_id, seq, skip)
                queue.popleft()
        finally:
            self._queues.pop(home_user, None)

    def _cached_cards(self, sdkappid: int, users: list[str]
                      ) -> dict[str, dict[str, Any]] | None:
        now = time.monotonic()
        found = {}
        for user in users:
            hit = self._cards.get(Identity(sdkappid, user))
            if hit is None or hit[0] < now:
                return None
            found[user] = hit[1]
        return found

    async def _fresh_cards(self, sdkappid: int, users: list[str]) -> dict[str, dict[str, Any]]:
        cached = self._cached_cards(sdkappid, users)
        if cached is not None:
            return cached
        cards = await self._user_cards(sdkappid, users)
        until = time.monotonic() + CARD_TTL
        if len(self._cards) > 100_000:
            self._cards.clear()
        for user, card in cards.items():
            self._cards[Identity(sdkappid, user)] = (until, card)
        return cards

    def _push(self, home: Identity, identity: Identity, doc: dict[str, Any],
              cards: dict[str, dict[str, Any]], conversation_id: int | None, seq: int,
              skip: Subscriber | None) -> None:
        data = doc.get("data")
        if isinstance(data, dict):
            users = _card_users(data)
            qualify_view(identity.sdkappid, data)
            data["link"] = self._labels.get(identity) or {
                "app": {"sdkappid": identity.sdkappid}, "as": {"user_id": identity.user_id}}
            if users:
                sender = data.get("sender")
                if isinstance(sender, str) and sender in cards:
                    data["sender_card"] = cards[sender]
                peer = users[-1]
                if data.get("conversation_id", "").endswith(f":c2c_{peer}") and peer in cards:
                    data["peer_card"] = cards[peer]
        encoded = orjson.dumps(doc)
        for device in list(self._bus.devices(home)):
            if device is not skip:
                device.push(encoded, conversation_id, seq)


def _card_users(data: object) -> list[str]:
    """The app users a relayed frame shows: its sender, then the peer of a
    one-to-one conversation (last)."""
    if not isinstance(data, dict):
        return []
    users = []
    sender = data.get("sender")
    if isinstance(sender, str):
        users.append(sender)
    conversation_id = data.get("conversation_id")
    if isinstance(conversation_id, str) and conversation_id.startswith("c2c_"):
        users.append(conversation_id[4:])
    return users


V = TypeVar("V")


def qualify_view(sdkappid: int, typed: V) -> V:
    """A view of the app's side, with its conversation ids (its own and its
    target's, for a change) qualified by app for a home device (in place)."""
    view = cast(dict[str, Any], typed)
    if isinstance(view.get("conversation_id"), str):
        view["conversation_id"] = qualify(sdkappid, view["conversation_id"])
    target = view.get("target")
    if isinstance(target, dict):
        qualify_view(sdkappid, target)
    last = view.get("last_message")
    if isinstance(last, dict):
        qualify_view(sdkappid, last)
    return typed
