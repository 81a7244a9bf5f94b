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


def test_one_call_deliveries_do_what_deliver_does_for_each() -> None:
    """``deliver_each`` (a one-to-one entry rendered per viewer) and
    ``deliver_many`` (a group's one frame) skip the acting device, render a
    viewer's frame only when a device is there for it (the relay gets the
    renderer otherwise), ask the relay for apps with links only, and count
    what they handed on."""
    bus = LocalBus()
    relayed: list[tuple[Identity, bytes]] = []

    def relay(identity: Identity, frame: bytes | Callable[[], bytes],
              conversation_id: int | None, seq: int, skip: Subscriber | None) -> int:
        relayed.append((identity, frame if isinstance(frame, bytes) else frame()))
        return 1

    bus.relay, bus.relay_apps = relay, {1: 1}
    acting, other, bobs = Device(), Device(), Device()
    alice, bob, carol = Identity(1, "alice"), Identity(1, "bob"), Identity(1, "carol")
    bus.attach(alice, acting)
    bus.attach(alice, other)
    bus.attach(bob, bobs)
    rendered: list[str] = []

    def render(viewer: str) -> bytes:
        rendered.append(viewer)
        return f"for {viewer}".encode()

    assert bus.deliver_each((alice, bob, carol), render, conversation_id=7, seq=1,
                            skip=acting) == 2 + 3
    assert (acting.got, other.got, bobs.got) == ([], [b"for alice"], [b"for bob"])
    assert rendered == ["alice", "bob", "carol"]  # carol's by the relay, once
    assert relayed == [(alice, b"for alice"), (bob, b"for bob"), (carol, b"for carol")]

    relayed.clear()
    assert bus.deliver_many(1, ["alice", "bob", "carol"], b"group", skip=acting) == 2 + 3
    assert (acting.got, other.got[-1], bobs.got[-1]) == ([], b"group", b"group")
    assert relayed == [(alice, b"group"), (bob, b"group"), (carol, b"group")]

    relayed.clear()
    dave = Identity(2, "dave")  # an app without links: the relay is not asked
    bus.attach(dave, Device())
    assert bus.deliver_many(2, ["dave", "erin"], b"g2") == 1
    assert bus.deliver_each((dave, Identity(2, "erin")), render) == 1
    assert relayed == []
