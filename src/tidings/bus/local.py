"""Who is connected where, inside one process.

``RedisBus`` (bus/redis.py) has the same methods and routes between the
processes of a cluster (docs/cluster.md); services only see this interface.
Beyond frames, the bus carries the news that a process changed something
that the others keep in memory (``changed``, ``on_change``): alone, a
process has no one to tell.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Container, Iterable
from functools import partial
from typing import Any, Protocol

from tidings.domain.ids import Identity


class Subscriber(Protocol):
    """A connected device: takes already-encoded frames without blocking."""

    def push(self, frame: bytes, conversation_id: int | None = None, seq: int = 0) -> None: ...

    def describe(self) -> dict[str, object]:
        """The device as an admin sees it: session id, platform, device id, since."""
        ...

    def disconnect(self, code: int, reason: str) -> None:
        """Close the connection soon (without blocking) with this close code."""
        ...


# What a process does when another one changed something it keeps in
# memory: ``changed(topic, data)`` there, ``handler(data)`` here.
ChangeHandler = Callable[[dict[str, Any]], None]

# A room's frame from another process: (room, frame).
RoomHandler = Callable[[str, bytes], None]

# Where else a frame for one identity goes (the devices of the home account
# linked to it: services/link_relay.py); returns how many devices got it.
Relay = Callable[[Identity, "bytes | Callable[[], bytes]", "int | None", int,
                  "Subscriber | None"], int]


class LocalBus:
    def __init__(self) -> None:
        # Keyed by ``(sdkappid, user_id)``: a tuple of plain values hashes and
        # compares in C, where an ``Identity`` calls its generated Python
        # ``__hash__`` and, for an equal object that is not the attached one
        # (the delivery's), ``__eq__``: four calls a one-to-one message
        # (issue 19).
        self._by_identity: dict[tuple[int, str], set[Subscriber]] = {}
        self.relay: Relay | None = None
        # The home account an identity is linked to (set with ``relay``): in
        # a cluster its frames go where either is connected.
        self.home_of: Callable[[Identity], Identity | None] | None = None
        # The apps that have linked identities (set with ``relay``; the link
        # service keeps it up to date in every process of a cluster): a frame
        # for another app's identity skips the relay, two calls and a hash
        # for each member of every message (issue 19).
        self.relay_apps: Container[int] = ()
        self._on_change: dict[str, list[ChangeHandler]] = {}
        # Devices whose app said it is in the background: connected, but
        # their user is away (push goes to them: services/push_decisions.py).
        self._away: weakref.WeakSet[Subscriber] = weakref.WeakSet()

    async def start(self) -> None:
        """Nothing to start in one process."""

    # Rooms (Live groups: services/live.py keeps their members): a room's
    # frames reach the processes that have members in it.

    def room_members(self, room: str, count: int) -> None:
        """This process has ``count`` members in ``room`` now."""

    def room_deliver(self, room: str, frame: bytes) -> None:
        """A frame for the room's members in the other processes."""

    def room_count(self, room: str) -> int:
        """Members of the room in the other processes."""
        return 0

    def on_room_frame(self, handler: RoomHandler) -> None:
        """Call ``handler`` with the frames other processes send to rooms."""

    async def stop(self) -> None:
        """Nothing to stop in one process."""

    def mark(self) -> int:
        """Where this process's presence news stand: a sync that waits for
        ``settled(mark)`` after a login reads the store only once every
        other process knows of the device (bus/settle.py). Alone: 0,
        nothing to wait for."""
        return 0

    async def settled(self, mark: int) -> None:
        """Until every other process has applied the presence news up to
        ``mark`` (bounded: bus/settle.py)."""

    async def ping(self) -> None:
        """Raise when the bus cannot reach the other processes (readiness);
        alone, there are none to reach."""

    def on_change(self, topic: str, handler: ChangeHandler) -> None:
        """Call ``handler`` when another process says ``changed(topic, ...)``."""
        self._on_change.setdefault(topic, []).append(handler)

    def changed(self, topic: str, data: dict[str, Any]) -> None:
        """This process changed what others may keep in memory (it has
        updated its own already). Alone, nobody else to tell."""

    def attach(self, identity: Identity, subscriber: Subscriber) -> None:
        self._by_identity.setdefault((identity.sdkappid, identity.user_id), set()).add(subscriber)

    def detach(self, identity: Identity, subscriber: Subscriber) -> None:
        key = (identity.sdkappid, identity.user_id)
        subs = self._by_identity.get(key)
        if subs is None:
            return
        subs.discard(subscriber)
        if not subs:
            del self._by_identity[key]

    def devices(self, identity: Identity) -> Iterable[Subscriber]:
        return self._by_identity.get((identity.sdkappid, identity.user_id), ())

    def deliver(self, identity: Identity, frame: bytes | Callable[[], bytes], *,
                conversation_id: int | None = None, seq: int = 0,
                skip: Subscriber | None = None) -> int:
        """Hand a frame to every device of one identity; returns how many.
        A callable frame is encoded only if someone is there to get it."""
        count = 0
        encoded = frame if isinstance(frame, bytes) else None
        for sub in self._by_identity.get((identity.sdkappid, identity.user_id), ()):
            if sub is not skip:
                if encoded is None:
                    encoded = frame() if callable(frame) else frame
                sub.push(encoded, conversation_id, seq)
                count += 1
        if identity.sdkappid in self.relay_apps and self.relay is not None:
            count += self.relay(identity, encoded if encoded is not None else frame,
                                conversation_id, seq, skip)
        return count

    def deliver_each(self, identities: Iterable[Identity], render: Callable[[str], bytes], *,
                     conversation_id: int | None = None, seq: int = 0,
                     skip: Subscriber | None = None) -> int:
        """An entry rendered per viewer (a one-to-one message: each member
        sees the conversation by the other's name) to every device of each
        identity; how many devices got it. What ``deliver`` of
        ``partial(render, user_id)`` does for each, in one call for all (the
        commit hook's, per message: issue 19); rendered only for an identity
        with a device here to get it."""
        by_identity, count = self._by_identity, 0
        for identity in identities:
            user, encoded = identity.user_id, None
            for sub in by_identity.get((identity.sdkappid, user), ()):
                if sub is not skip:
                    if encoded is None:
                        encoded = render(user)
                    sub.push(encoded, conversation_id, seq)
                    count += 1
            if identity.sdkappid in self.relay_apps and self.relay is not None:
                count += self.relay(identity, partial(render, user) if encoded is None
                                    else encoded, conversation_id, seq, skip)
        return count

    def deliver_many(self, sdkappid: int, users: Iterable[str], frame: bytes, *,
                     conversation_id: int | None = None, seq: int = 0,
                     skip: Subscriber | None = None) -> int:
        """One frame (a group's entry) to every device of many identities of
        one app; how many devices got it. The lookups here, by plain values:
        no ``Identity`` built and no ``deliver`` called per member, only for
        the relay of an app with links (issue 19)."""
        by_identity, count = self._by_identity, 0
        relay = self.relay if sdkappid in self.relay_apps else None
        for user in users:
            for sub in by_identity.get((sdkappid, user), ()):
                if sub is not skip:
                    sub.push(frame, conversation_id, seq)
                    count += 1
            if relay is not None:
                count += relay(Identity(sdkappid, user), frame, conversation_id, seq, skip)
        return count

    def set_away(self, identity: Identity, subscriber: Subscriber, away: bool) -> None:
        """The device's app went to the background (``away``) or came back."""
        if away:
            self._away.add(subscriber)
        else:
            self._away.discard(subscriber)

    def foreground(self, identity: Identity) -> bool:
        """Whether some device of the identity is connected with its app in
        the foreground (to any process)."""
        return any(d not in self._away
                   for d in self._by_identity.get((identity.sdkappid, identity.user_id), ()))

    def online(self, identity: Identity) -> bool:
        """Whether the identity has a device connected (to any process)."""
        return (identity.sdkappid, identity.user_id) in self._by_identity

    def describe_devices(self, identity: Identity) -> list[dict[str, object]]:
        subs = self._by_identity.get((identity.sdkappid, identity.user_id), ())
        return sorted((sub.describe() for sub in subs),
                      key=lambda d: (len(str(d["session_id"])), str(d["session_id"])))

    def disconnect_all(self, identity: Identity, code: int, reason: str) -> int:
        """Close every connection of one identity; returns how many."""
        subs = list(self._by_identity.pop((identity.sdkappid, identity.user_id), ()))
        for sub in subs:
            sub.disconnect(code, reason)
        return len(subs)

    def connections_by_app(self) -> dict[int, int]:
        """This process's live connections per app (the figures' sampler)."""
        counts: dict[int, int] = {}
        for (sdkappid, _), subs in self._by_identity.items():
            if subs:
                counts[sdkappid] = counts.get(sdkappid, 0) + len(subs)
        return counts

    def disconnect_here(self, code: int, reason: str) -> int:
        """Close every connection of this process (a drain), whatever the
        others hold; returns how many."""
        subs = [sub for subs in self._by_identity.values() for sub in subs]
        for sub in subs:
            sub.disconnect(code, reason)
        return len(subs)

    def connection_count(self, sdkappid: int | None = None) -> int:
        """Live connections, of one app or of all."""
        return sum(len(subs) for (app, _), subs in self._by_identity.items()
                   if sdkappid is None or app == sdkappid)

