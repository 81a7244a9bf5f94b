"""RedisBus against a real Redis, several buses (nodes) in one process:
presence reaches the others, frames and group entries go only to the nodes
that have the devices (one Redis message per node for a group), a node that
starts late learns who is online, a silent node is taken for dead, kicks
and cache changes cross nodes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.redis_server import RedisServer, find_redis
from tidings.bus.redis import RedisBus
from tidings.domain.ids import Identity

APP = 1400000001


class Device:
    def __init__(self, name: str) -> None:
        self.name = name
        self.frames: list[tuple[bytes, int | None, int]] = []
        self.closed: tuple[int, str] | None = None

    def push(self, frame: bytes, conversation_id: int | None = None, seq: int = 0) -> None:
        self.frames.append((frame, conversation_id, seq))

    def describe(self) -> dict[str, object]:
        return {"session_id": self.name, "platform": "", "device_id": "", "since": 0}

    def disconnect(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(250):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


@pytest.fixture
async def buses(redis_server: RedisServer) -> AsyncIterator[Callable[[], Any]]:
    redis_server.flush()
    made: list[RedisBus] = []

    async def make(cluster: str = "tidings") -> RedisBus:
        bus = RedisBus(redis_server.url, heartbeat=0.1, node_timeout=0.6, cluster=cluster)
        await bus.start()
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.stop()


def sent_by(bus: RedisBus) -> list[tuple[Any, ...]]:
    """What ``bus`` publishes from now on (the commands it queues)."""
    log: list[tuple[Any, ...]] = []
    send = bus._send

    def spy(command: tuple[Any, ...]) -> None:
        log.append(command)
        send(command)

    bus._send = spy  # type: ignore[method-assign]
    return log


async def test_a_frame_reaches_a_device_on_another_node(buses: Any) -> None:
    a, b = await buses(), await buses()
    alice = Identity(APP, "alice")
    device = Device("d1")
    b.attach(alice, device)
    await until(lambda: a.online(alice), "a sees alice online")
    assert a.deliver(alice, lambda: b'{"event":"message"}', conversation_id=7, seq=3) == 1
    await until(lambda: bool(device.frames), "the frame arrives")
    assert device.frames == [(b'{"event":"message"}', 7, 3)]
    assert a.connection_count(APP) == 1
    b.detach(alice, device)
    await until(lambda: not a.online(alice), "a sees alice gone")
    # Nobody anywhere: nothing is published.
    log = sent_by(a)
    assert a.deliver(alice, b"{}") == 0
    assert log == []


async def test_a_group_entry_is_one_redis_message_per_node(buses: Any) -> None:
    a, b, c = await buses(), await buses(), await buses()
    devices = {name: Device(name) for name in ("u1", "u2", "u3", "u4")}
    b.attach(Identity(APP, "u1"), devices["u1"])
    b.attach(Identity(APP, "u2"), devices["u2"])
    c.attach(Identity(APP, "u3"), devices["u3"])
    a.attach(Identity(APP, "u4"), devices["u4"])
    for user in ("u1", "u2", "u3"):
        await until(lambda u=user: a.online(Identity(APP, u)), f"a sees {user}")
    log = sent_by(a)
    a.deliver_many(APP, ["u1", "u2", "u3", "u4", "offline"], b'{"g":1}', conversation_id=9,
                   seq=5)
    published = [cmd for cmd in log if cmd[0] == "publish"]
    assert sorted(cmd[1] for cmd in published) == sorted(
        [f"tidings:node:{b.node}", f"tidings:node:{c.node}"])
    await until(lambda: all(d.frames for d in devices.values()), "every member has it")
    assert all(d.frames == [(b'{"g":1}', 9, 5)] for d in devices.values())


async def test_a_node_that_starts_late_learns_who_is_online(buses: Any) -> None:
    a = await buses()
    bob = Identity(APP, "bob")
    a.attach(bob, Device("b1"))
    a.attach(bob, Device("b2"))
    await asyncio.sleep(0.1)  # let the announcement go out before the next node reads
    late = await buses()
    assert late.online(bob)
    assert [d["session_id"] for d in late.describe_devices(bob)] == ["b1", "b2"]


async def test_a_silent_node_is_taken_for_dead(buses: Any) -> None:
    a, b = await buses(), await buses()
    carol = Identity(APP, "carol")
    b.attach(carol, Device("c1"))
    await until(lambda: a.online(carol), "a sees carol")
    for task in b._tasks:  # b stops answering (a kill -9 says no goodbye)
        task.cancel()
    await until(lambda: not a.online(carol), "a forgets the dead node's devices")


async def test_kicks_and_changes_cross_nodes(buses: Any) -> None:
    a, b = await buses(), await buses()
    dave = Identity(APP, "dave")
    device = Device("d")
    b.attach(dave, device)
    await until(lambda: a.online(dave), "a sees dave")
    assert a.disconnect_all(dave, 4005, "kicked") == 1
    await until(lambda: device.closed is not None, "dave's device is closed")
    assert device.closed == (4005, "kicked")
    await until(lambda: not a.online(dave), "dave gone everywhere")
    heard: list[dict[str, Any]] = []
    b.on_change("accounts", heard.append)
    a.changed("accounts", {"ids": [[APP, "dave"]]})
    await until(lambda: bool(heard), "b hears of the change")
    assert heard == [{"ids": [[APP, "dave"]]}]


async def test_clusters_on_one_redis_stay_apart(buses: Any) -> None:
    a, b, other = await buses(), await buses(), await buses("staging")
    erin = Identity(APP, "erin")
    device = Device("e")
    other.attach(erin, device)
    b.attach(erin, Device("e2"))
    await until(lambda: a.online(erin), "a sees erin on b")
    assert not other.online(Identity(APP, "nobody"))
    assert [d["session_id"] for d in a.describe_devices(erin)] == ["e2"]
    a.deliver(erin, b"{}")
    await until(lambda: bool(b._by_identity), "b has its device")
    await asyncio.sleep(0.2)  # what a would wrongly have sent would be there by now
    assert device.frames == []


async def test_a_device_in_the_background_on_another_node_counts_as_away(
        buses: Any) -> None:
    a, b = await buses(), await buses()
    fay = Identity(APP, "fay")
    device = Device("f")
    b.attach(fay, device)
    await until(lambda: a.foreground(fay), "a sees fay in the foreground")
    b.set_away(fay, device, True)
    await until(lambda: not a.foreground(fay), "a sees fay away")
    assert a.online(fay)
    assert "away" not in a.describe_devices(fay)[0]
    b.set_away(fay, device, False)
    await until(lambda: a.foreground(fay), "a sees fay back")


@pytest.mark.parametrize("down", [0.0, 1.5], ids=["back-at-once", "down-past-the-timeout"])
async def test_after_redis_restarts_empty_the_nodes_announce_their_devices_again(
        down: float) -> None:
    """Redis killed and started again (empty: it saves nothing), at once
    (redis-py reconnects and subscribes again inside ``listen``) or after
    the nodes took each other for dead: each node reads the cluster again
    and writes its devices anew, so frames cross again and a node that
    starts afterwards learns who is online."""
    binary = find_redis()
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    redis = RedisServer(binary)  # its own: this test kills it
    redis.start()
    made: list[RedisBus] = []

    async def node() -> RedisBus:
        bus = RedisBus(redis.url, heartbeat=0.1, node_timeout=0.6)
        await bus.start()
        made.append(bus)
        return bus

    try:
        a, b = await node(), await node()
        erin = Identity(APP, "erin")
        device = Device("e1")
        b.attach(erin, device)
        await until(lambda: a.online(erin), "a sees erin")
        redis.crash()
        await asyncio.sleep(down)
        redis.start()
        await until(lambda: bool(b._early is None and a._remote.get((erin.sdkappid, erin.user_id))
                                 and (erin.sdkappid, erin.user_id) in b._by_identity),
                    "the nodes rejoin")

        async def crossed() -> bool:
            a.deliver(erin, b"after", conversation_id=1, seq=1)
            await asyncio.sleep(0.05)
            return any(f == b"after" for f, _, _ in device.frames)

        for _ in range(100):
            if await crossed():
                break
        assert any(f == b"after" for f, _, _ in device.frames)
        late = await node()
        assert late.online(erin)
    finally:
        for bus in made:
            await bus.stop()
        redis.stop()


async def test_a_login_round_is_settled_once_every_other_node_knows_the_device(
        buses: Any) -> None:
    """The login window (bus/settle.py): when ``settled(mark)`` returns,
    the other nodes have applied the attach (no waiting on our side)."""
    a, b, c = await buses(), await buses(), await buses()
    await until(lambda: len(a._heard) == 2 and len(b._heard) == 2 and len(c._heard) == 2,
                "the three nodes know each other")
    for i in range(5):
        alice = Identity(APP, f"alice-{i}")
        b.attach(alice, Device(f"d{i}"))
        mark = b.mark()
        assert mark > 0
        await asyncio.wait_for(b.settled(mark), 5)
        assert a.online(alice) and c.online(alice)
        assert b._rounds.settled(mark)
    # Nothing new announced: nothing to wait for.
    assert b._rounds.settled(b.mark())


async def test_entries_from_two_nodes_reach_a_device_in_seq_order(buses: Any) -> None:
    a, b = await buses(), await buses()
    bob = Identity(APP, "bob")
    device = Device("d1")
    a.attach(bob, device)
    await until(lambda: b.online(bob), "b sees bob online")
    a.deliver(bob, b"1", conversation_id=7, seq=1)
    a.deliver(bob, b"3", conversation_id=7, seq=3)  # before 2, committed elsewhere
    assert [f for f, _, _ in device.frames] == [b"1"]
    b.deliver(bob, b"2", conversation_id=7, seq=2)
    await until(lambda: len(device.frames) == 3, "2 arrives and 3 follows")
    assert [f for f, _, _ in device.frames] == [b"1", b"2", b"3"]
    # Another conversation is not held by this one.
    a.deliver(bob, b"x", conversation_id=8, seq=5)
    assert device.frames[-1][0] == b"x"
