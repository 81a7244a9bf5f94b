"""The bus asks the link relay only about identities of apps that have
links (issue 19: the relay was two calls and two hashes for every member of
every one-to-one message): the link service's per-app map, shared with the
bus, decides, and a link made later is followed at once."""

from __future__ import annotations

from collections.abc import Callable

from tidings.bus.local import LocalBus, Subscriber
from tidings.domain.ids import Identity


class Device:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def push(self, frame: bytes, conversation_id: int | None = None, seq: int = 0) -> None:
        self.got.append(frame)


def test_only_identities_of_apps_with_links_reach_the_relay() -> None:
    bus = LocalBus()
    asked: list[Identity] = []

    def relay(identity: Identity, frame: bytes | Callable[[], bytes],
              conversation_id: int | None, seq: int, skip: Subscriber | None) -> int:
        asked.append(identity)
        return 1

    linked: dict[int, int] = {}  # the link service's live links per app
    bus.relay, bus.relay_apps = relay, linked
    device = Device()
    bus.attach(Identity(1, "alice"), device)
    assert bus.deliver(Identity(1, "alice"), b"one") == 1
    assert bus.deliver(Identity(2, "bob"), b"two") == 0
    assert asked == [] and device.got == [b"one"]

    linked[2] = 1  # a link made in app 2 (here or told by another process)
    assert bus.deliver(Identity(2, "bob"), b"three") == 1
    assert bus.deliver(Identity(1, "alice"), lambda: b"four") == 1
    assert asked == [Identity(2, "bob")]
    assert device.got == [b"one", b"four"]
