"""Who is connected where, inside one process.

A Redis implementation with the same methods will route between processes
when Tidings runs as a cluster; services only see this interface.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

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


# Where else a frame for one identity goes (the devices of the home account
# linked to it: services/link_relay.py); returns how many devices got it.
Relay = Callable[[Identity, "bytes | Callable[[], bytes]", "int | None", int,
                  "Subscriber | None"], int]


class LocalBus:
    def __init__(self) -> None:
        self._by_identity: dict[Identity, set[Subscriber]] = {}
        self.relay: Relay | None = None

    def attach(self, identity: Identity, subscriber: Subscriber) -> None:
        self._by_identity.setdefault(identity, set()).add(subscriber)

    def detach(self, identity: Identity, subscriber: Subscriber) -> None:
        subs = self._by_identity.get(identity)
        if subs is None:
            return
        subs.discard(subscriber)
        if not subs:
            del self._by_identity[identity]

    def devices(self, identity: Identity) -> Iterable[Subscriber]:
        return self._by_identity.get(identity, ())

    def deliver(self, identity: Identity, frame: bytes | Callable[[], bytes], *,
                conversation_id: int | None = None, seq: int = 0,
                skip: Subscriber | None = None) -> int:
        """Hand a frame to every device of one identity; returns how many.
        A callable frame is encoded only if someone is there to get it."""
        count = 0
        encoded = frame if isinstance(frame, bytes) else None
        for sub in self._by_identity.get(identity, ()):
            if sub is not skip:
                if encoded is None:
                    encoded = frame() if callable(frame) else frame
                sub.push(encoded, conversation_id, seq)
                count += 1
        if self.relay is not None:
            count += self.relay(identity, encoded if encoded is not None else frame,
                                conversation_id, seq, skip)
        return count

    def describe_devices(self, identity: Identity) -> list[dict[str, object]]:
        return sorted((sub.describe() for sub in self._by_identity.get(identity, ())),
                      key=lambda d: (len(str(d["session_id"])), str(d["session_id"])))

    def disconnect_all(self, identity: Identity, code: int, reason: str) -> int:
        """Close every connection of one identity; returns how many."""
        subs = list(self._by_identity.pop(identity, ()))
        for sub in subs:
            sub.disconnect(code, reason)
        return len(subs)

    def connection_count(self, sdkappid: int | None = None) -> int:
        """Live connections, of one app or of all."""
        return sum(len(subs) for identity, subs in self._by_identity.items()
                   if sdkappid is None or identity.sdkappid == sdkappid)

