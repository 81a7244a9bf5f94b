"""The commit hook keeps each one-to-one conversation's members as the bus'
identities (issue 19: built per message they were two allocations a
message): every device of both members still gets the entry rendered for
its own user, the sending device nothing, and the kept map stays bounded."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tidings.bus.local import LocalBus
from tidings.domain.elements import MessageState
from tidings.domain.ids import Identity, c2c_key
from tidings.domain.records import Committed, NewMessage, StoredMessage
from tidings.services.messaging import delivery as delivery_module
from tidings.services.messaging.delivery import Delivery

APP = 1400000001


class Device:
    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []

    def push(self, frame: bytes, conversation_id: int | None = None, seq: int = 0) -> None:
        self.got.append(orjson.loads(frame)["data"])


class Origin:
    def __init__(self, device: Device) -> None:
        self.device = device
        self.acked = 0

    def ack(self, committed: Committed) -> None:
        self.acked += 1


def committed(sender: str, peer: str, origin: Origin, seq: int) -> Committed:
    key = c2c_key(APP, sender, peer)
    request = NewMessage(key, sender, f"m-{seq}", "[]", "", origin)
    # Each conversation its own number, as the store gives them (the kept
    # members are found by it).
    number = 10 + ord(peer[0])
    stored = StoredMessage(number, key, seq, sender, f"m-{seq}", "[]", "", 1, MessageState.NORMAL)
    return Committed(request, stored, duplicate=False)


def test_every_device_gets_the_entry_as_its_user_sees_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery_module, "KNOWN_PAIRS", 2)
    bus = LocalBus()
    devices: dict[str, list[Device]] = {}
    for user in ("alice", "bob", "carol", "dave", "erin"):
        devices[user] = [Device(), Device()]  # two devices each
        for device in devices[user]:
            bus.attach(Identity(APP, user), device)
    delivery = Delivery(bus)
    peers = ["bob", "carol", "dave", "erin"]
    origin = Origin(devices["alice"][0])
    for seq in range(1, 9):  # more conversations than kept: kept, dropped, again
        delivery.on_commit([committed("alice", peers[seq % 4], origin, seq)])
        assert len(delivery._members) <= 2
    assert origin.acked == 8
    assert devices["alice"][0].got == []  # the sending device has its ack
    assert [(g["conversation_id"], g["seq"]) for g in devices["alice"][1].got] == [
        (f"c2c_{peers[seq % 4]}", seq) for seq in range(1, 9)]
    for n, peer in enumerate(peers):
        want = [("c2c_alice", seq) for seq in range(1, 9) if seq % 4 == (n % 4)]
        for device in devices[peer]:
            assert [(g["conversation_id"], g["seq"]) for g in device.got] == want
