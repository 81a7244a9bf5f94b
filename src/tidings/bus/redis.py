"""The bus of a cluster (docs/cluster.md): ``LocalBus`` for this process's
own devices, and Redis pub/sub between the processes (nodes) that share one
PostgreSQL database.

How a frame finds its devices. Every node knows which identities have
devices on which other nodes (``_remote``): a node announces on the
cluster's channel each identity whose devices it changes (each device as
``describe`` says: session, platform, device id, since), and keeps them in
a Redis hash of its own, which a node that starts reads once
(announcements that arrive meanwhile are replayed after it). So ``deliver``
decides without asking Redis: the frame goes to the local devices, and to
the channel of each node that has a device of the identity, or of the home
account linked to it (that node relays it, as for its own). A group's entry
is one Redis message per node that has any member, naming the members there,
never one per member. Frames a node publishes reach each other node in the
order it published them.

A device's first sync waits until every other node has applied its
presence news (the login window: rounds, bus/settle.py), and a
conversation's entries reach this node's devices in seq order whichever
nodes committed them (bus/seq_order.py).

Rooms (Live groups) go the same way: a node announces how many members it
has in each room (``room_members``), and a room's message is one Redis
message per other node that has members in it (``room_deliver``).

Nodes say they are alive every ``heartbeat`` seconds; one not heard for
``node_timeout`` is taken for dead: the others forget its devices (its
clients reconnect to another node and resync) and remove its keys.

What other nodes keep in memory (accounts' states, links, friend lists,
groups...) is told with ``changed(topic, data)``: the other nodes run the
handlers registered with ``on_change``. Kicks and disconnects go to every
node that has a device of the identity.

Memory: each node mirrors the cluster's online identities (a dict entry
each). Past a few hundred thousand connected identities, per-identity
channels (subscribed where the identity is connected) would replace the
mirror: the plan in docs/cluster.md.

Longer than 500 lines: one class, whose parts (presence, frames, rooms, the
listener and its rejoin after an outage, the sender) all read and write the
one mirror of the cluster; split, each would reach into the others' state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tidings.bus.local import LocalBus, RoomHandler, Subscriber
from tidings.bus.redis_counters import RedisRateCounter
from tidings.bus.redis_wire import (
    Names,
    frame_message,
    pack,
    set_count,
    text,
    unpack,
)
from tidings.bus.seq_order import SeqOrder
from tidings.bus.settle import Rounds
from tidings.domain.cluster import StartRefused
from tidings.domain.ids import Identity

log = logging.getLogger(__name__)

Command = tuple[Any, ...]
# At most this long for each step of a stop that talks to Redis.
STOP_SECONDS = 3.0


def check_reachable(url: str) -> None:
    """Before serving: a Redis that does not answer is a refusal to start
    (one line), not a traceback after a wait."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except (RedisError, OSError, ValueError) as exc:
        raise StartRefused(f"cannot reach Redis at TIDINGS_REDIS_URL ({exc})") from None


class RedisNews(LocalBus):
    """The bus of a process that is no node of the cluster (the CLI): no
    devices; what it changes is told to the nodes when it ``flush``es."""

    def __init__(self, url: str, cluster: str = "tidings") -> None:
        super().__init__()
        self._url = url
        self._names = Names(cluster)
        self._news: list[bytes] = []

    def changed(self, topic: str, data: dict[str, Any]) -> None:
        self._news.append(orjson.dumps(["c", "cli", topic, data]))

    async def flush(self) -> None:
        if not self._news:
            return
        client = aioredis.Redis.from_url(self._url)
        try:
            async with client.pipeline(transaction=False) as pipe:
                for news in self._news:
                    pipe.publish(self._names.all, news)
                await pipe.execute()
            self._news = []
        except (RedisError, OSError) as exc:
            # The servers read it within TIDINGS_APP_CACHE_TTL all the same.
            log.warning("could not tell the cluster of the change (%s)", exc)
        finally:
            await client.aclose()


class RedisBus(LocalBus):
    def __init__(self, url: str, *, heartbeat: float = 1.0, node_timeout: float = 5.0,
                 cluster: str = "tidings", settle_timeout: float = 2.0,
                 order_wait: float = 0.1) -> None:
        super().__init__()
        self._names = Names(cluster)
        self.node = uuid.uuid4().hex[:16]
        self._redis = aioredis.Redis.from_url(url)
        self._heartbeat = heartbeat
        self._timeout = node_timeout
        # Devices on other nodes: (sdkappid, user_id) -> {node: the devices
        # there}. Plain tuples, like ``_by_identity``: an ``Identity`` key
        # hashes and compares in Python (a delivery's identities are equal
        # to, not the same as, the ones announced).
        self._remote: dict[tuple[int, str], dict[str, list[dict[str, Any]]]] = {}
        self._of_node: dict[str, set[tuple[int, str]]] = {}
        # Rooms with members on other nodes: room -> {node: members there}.
        self._rooms: dict[str, dict[str, int]] = {}
        self._room_counts: dict[str, int] = {}
        self._on_room: RoomHandler | None = None
        self._heard: dict[str, float] = {}
        # The login window's rounds (bus/settle.py), and the nodes whose
        # heartbeat says they do not answer them (an older version).
        self._rounds = Rounds(settle_timeout)
        self._deaf: set[str] = set()
        self._warned_round = 0
        # Entries of a conversation reach this node's devices in seq order
        # whichever nodes committed them (bus/seq_order.py).
        self._order = SeqOrder(order_wait)
        # Commands to Redis, in order, sent by one task (one connection:
        # what this node publishes arrives in the order it was published).
        self._pending: list[Command] = []
        self._wake = asyncio.Event()
        # Announcements that arrive while the start reads the others' state.
        self._early: list[list[Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    # -- start and stop ---------------------------------------------------------

    async def start(self) -> None:
        self._early = []
        self._tasks.append(asyncio.create_task(self._listen(), name="bus-listen"))
        await asyncio.wait_for(self._subscribed.wait(), 30)
        await self._read_cluster()
        early, self._early = self._early, None
        for doc in early:
            self._on_all(doc)
        await self._redis.hset(self._names.nodes, self.node, str(time.time()))
        await self._redis.publish(self._names.all, self._beat_doc)
        self._tasks.append(asyncio.create_task(self._send_loop(), name="bus-send"))
        self._tasks.append(asyncio.create_task(self._beat(), name="bus-heartbeat"))
        log.info("cluster node %s: %d other nodes, %d identities online there", self.node,
                 len(self._heard), len(self._remote))

    async def stop(self) -> None:
        """Say goodbye; a Redis that is gone or stuck never holds up the
        process's stop (a few seconds at most: the others then time it out)."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # A task closing a connection Redis no longer answers on must
            # not hold the stop.
            await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(STOP_SECONDS):
                await self._flush()  # what is queued goes out, if Redis is there
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.delete(self._names.presence(self.node),
                                self._names.rooms(self.node))
                    pipe.hdel(self._names.nodes, self.node)
                    pipe.publish(self._names.all, orjson.dumps(["bye", self.node]))
                    await pipe.execute()
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(STOP_SECONDS):
                await self._redis.aclose()

    async def ping(self) -> None:
        await asyncio.wait_for(self._redis.ping(), 2.0)

    def rate_counter(self) -> RedisRateCounter:  # the cluster's, on this node's client
        return RedisRateCounter(self._redis, self._names.rate_prefix)

    async def _read_cluster(self) -> None:
        now = time.time()
        for raw_node, beat in (await self._redis.hgetall(self._names.nodes)).items():
            node = text(raw_node)
            if node == self.node or now - float(beat) > self._timeout:
                continue
            self._heard[node] = time.monotonic()
            for field, devices in (await self._redis.hgetall(self._names.presence(node))).items():
                sdkappid, _, user = text(field).partition(":")
                self._set_remote(node, (int(sdkappid), user), orjson.loads(devices))
            for room, count in (await self._redis.hgetall(self._names.rooms(node))).items():
                set_count(self._rooms, text(room), node, int(count))

    # -- this node's devices ----------------------------------------------------

    def attach(self, identity: Identity, subscriber: Subscriber) -> None:
        super().attach(identity, subscriber)
        self._announce(identity)

    def detach(self, identity: Identity, subscriber: Subscriber) -> None:
        key = (identity.sdkappid, identity.user_id)
        had = len(self._by_identity.get(key, ()))
        super().detach(identity, subscriber)
        if len(self._by_identity.get(key, ())) != had:
            self._announce(identity)

    # -- the login window (bus/settle.py) ----------------------------------------

    def mark(self) -> int:
        return self._rounds.mark()

    async def settled(self, mark: int) -> None:
        if mark and not await self._rounds.wait(mark) and mark > self._warned_round:
            self._warned_round = mark  # once per round, not per login waiting on it
            log.warning("cluster bus: nodes %s did not acknowledge this node's presence news"
                        " in time; a sync reads without it",
                        sorted(self._rounds.missing(mark)))

    def _acknowledge(self, node: str, upto: int) -> None:
        """Everything ``node`` announced up to its round ``upto`` is applied
        here: tell it."""
        self._send(("publish", self._names.channel(node),
                    orjson.dumps(["ack", self.node, upto]) + b"\n"))

    def _announce(self, identity: Identity) -> None:
        devices = [{**sub.describe(), "away": sub in self._away}
                   for sub in self._by_identity.get((identity.sdkappid, identity.user_id), ())]
        field = f"{identity.sdkappid}:{identity.user_id}"
        if devices:
            self._send(("hset", self._names.presence(self.node), field, orjson.dumps(devices)))
        else:
            self._send(("hdel", self._names.presence(self.node), field))
        self._send(("publish", self._names.all, orjson.dumps(
            ["p", self.node, identity.sdkappid, identity.user_id, devices])))
        self._rounds.due = True

    # -- frames -----------------------------------------------------------------

    def _nodes_for(self, identity: Identity
                   ) -> tuple[dict[str, list[dict[str, Any]]], Iterable[str]]:
        """The identity's own devices on other nodes (by node), and the nodes
        its frames go to (its own, and its home account's): one look-up."""
        devices = self._remote.get((identity.sdkappid, identity.user_id)) or {}
        home = self._home(identity)
        if home is not None and (home_nodes := self._remote.get((home.sdkappid,
                                                                 home.user_id))):
            return devices, {*devices, *home_nodes}
        return devices, devices

    def _home(self, identity: Identity) -> Identity | None:
        """The home account linked to ``identity`` (only apps with links ask)."""
        if identity.sdkappid not in self.relay_apps or self.home_of is None:
            return None
        return self.home_of(identity)

    def deliver(self, identity: Identity, frame: bytes | Callable[[], bytes], *,
                conversation_id: int | None = None, seq: int = 0,
                skip: Subscriber | None = None) -> int:
        there, nodes = self._nodes_for(identity)
        if not nodes:
            return self._here(identity, frame, conversation_id, seq, skip)
        raw = frame if isinstance(frame, bytes) else frame()
        count = self._here(identity, raw, conversation_id, seq, skip)
        message = frame_message(identity.sdkappid, [identity.user_id], raw, conversation_id,
                                 seq)
        for node in nodes:
            self._send(("publish", self._names.channel(node), message))
            count += len(there.get(node, ()))
        return count

    def deliver_each(self, identities: Iterable[Identity], render: Callable[[str], bytes], *,
                     conversation_id: int | None = None, seq: int = 0,
                     skip: Subscriber | None = None) -> int:
        # Each through ``deliver``: the other nodes' frames and this node's order.
        return sum(self.deliver(identity, partial(render, identity.user_id),
                                conversation_id=conversation_id, seq=seq, skip=skip)
                   for identity in identities)

    def deliver_many(self, sdkappid: int, users: Iterable[str], frame: bytes, *,
                     conversation_id: int | None = None, seq: int = 0,
                     skip: Subscriber | None = None) -> int:
        by_node: dict[str, list[str]] = {}
        here: list[str] = []
        count = 0
        for user in users:
            identity = Identity(sdkappid, user)
            if self._is_here(identity):
                here.append(user)
            devices, nodes = self._nodes_for(identity)
            for node in nodes:
                by_node.setdefault(node, []).append(user)
                count += len(devices.get(node, ()))
        if here:
            count += self._here_many(sdkappid, here, frame, conversation_id, seq, skip)
        for node, there in by_node.items():
            self._send(("publish", self._names.channel(node),
                        frame_message(sdkappid, there, frame, conversation_id, seq)))
        return count

    def _on_frames(self, data: bytes) -> None:
        """Frames from another node for devices here (relayed here too), or
        for a room's members here."""
        header, _, frame = data.partition(b"\n")
        doc = orjson.loads(header)
        if doc[0] == "room":
            if self._on_room is not None:
                self._on_room(doc[1], frame)
            return
        if doc[0] == "ack":
            self._rounds.acked(doc[1], doc[2])
            return
        sdkappid, users, conversation_id, seq = doc
        self._here_many(sdkappid, users, frame, conversation_id, seq, None)

    def _is_here(self, identity: Identity) -> bool:
        """Whether a frame for ``identity`` has a device on this node (its
        own, or its home account's: the relay)."""
        if (identity.sdkappid, identity.user_id) in self._by_identity:
            return True
        home = self._home(identity)
        return home is not None and (home.sdkappid, home.user_id) in self._by_identity

    def _here(self, identity: Identity, frame: bytes | Callable[[], bytes],
              conversation_id: int | None, seq: int, skip: Subscriber | None) -> int:
        """A frame for this node's devices of ``identity``; a conversation's
        entry in seq order. How many devices (held: those there now)."""
        local = super().deliver
        if conversation_id is None or not seq or not self._is_here(identity):
            return local(identity, frame, conversation_id=conversation_id, seq=seq, skip=skip)
        count = [len(self._by_identity.get((identity.sdkappid, identity.user_id), ()))]

        def hand() -> None:
            count[0] = local(identity, frame, conversation_id=conversation_id, seq=seq,
                             skip=skip)

        self._order.offer(conversation_id, seq, hand)
        return count[0]

    def _here_many(self, sdkappid: int, users: list[str], frame: bytes,
                   conversation_id: int | None, seq: int, skip: Subscriber | None) -> int:
        """One frame for this node's devices of several identities (one
        entry of a conversation: one place in its order)."""
        count = [0]

        def hand() -> None:
            count[0] = LocalBus.deliver_many(self, sdkappid, users, frame,
                                             conversation_id=conversation_id, seq=seq,
                                             skip=skip)

        if conversation_id is None or not seq:
            hand()
        elif not self._order.offer(conversation_id, seq, hand):
            return sum(len(self._by_identity.get((sdkappid, u), ())) for u in users)
        return count[0]

    # -- rooms ------------------------------------------------------------------

    def room_members(self, room: str, count: int) -> None:
        if self._room_counts.get(room, 0) == count:
            return
        if count:
            self._room_counts[room] = count
            self._send(("hset", self._names.rooms(self.node), room, count))
        else:
            self._room_counts.pop(room, None)
            self._send(("hdel", self._names.rooms(self.node), room))
        self._send(("publish", self._names.all, orjson.dumps(["r", self.node, room, count])))

    def room_deliver(self, room: str, frame: bytes) -> None:
        nodes = self._rooms.get(room)
        if nodes:
            message = orjson.dumps(["room", room]) + b"\n" + frame
            for node in nodes:
                self._send(("publish", self._names.channel(node), message))

    def room_count(self, room: str) -> int:
        return sum(self._rooms.get(room, {}).values())

    def on_room_frame(self, handler: RoomHandler) -> None:
        self._on_room = handler

    # -- the cluster's view -----------------------------------------------------

    def online(self, identity: Identity) -> bool:
        return super().online(identity) or (identity.sdkappid, identity.user_id) in self._remote

    def set_away(self, identity: Identity, subscriber: Subscriber, away: bool) -> None:
        super().set_away(identity, subscriber, away)
        if subscriber in self._by_identity.get((identity.sdkappid, identity.user_id), ()):
            self._announce(identity)

    def foreground(self, identity: Identity) -> bool:
        return super().foreground(identity) or any(
            not device.get("away")
            for there in self._remote.get((identity.sdkappid, identity.user_id), {}).values()
            for device in there)

    def describe_devices(self, identity: Identity) -> list[dict[str, object]]:
        """Every device of the identity in the cluster, as each node
        announced it."""
        devices = super().describe_devices(identity)
        for there in self._remote.get((identity.sdkappid, identity.user_id), {}).values():
            devices += [{k: v for k, v in d.items() if k != "away"} for d in there]
        return sorted(devices, key=lambda d: (len(str(d["session_id"])), str(d["session_id"])))

    def disconnect_all(self, identity: Identity, code: int, reason: str) -> int:
        closed = super().disconnect_all(identity, code, reason)
        if closed:
            self._announce(identity)
        remote = self._remote.get((identity.sdkappid, identity.user_id))
        if remote:
            self._send(("publish", self._names.all, orjson.dumps(
                ["k", self.node, identity.sdkappid, identity.user_id, code, reason])))
            closed += sum(len(there) for there in remote.values())
        return closed

    def connection_count(self, sdkappid: int | None = None) -> int:
        """Live connections of the whole cluster, of one app or of all."""
        return super().connection_count(sdkappid) + sum(
            sum(len(there) for there in nodes.values())
            for (app, _), nodes in self._remote.items()
            if sdkappid is None or app == sdkappid)

    def changed(self, topic: str, data: dict[str, Any]) -> None:
        self._send(("publish", self._names.all, orjson.dumps(["c", self.node, topic, data])))

    # -- what arrives -----------------------------------------------------------

    async def _listen(self) -> None:
        """Read both channels; after a lost connection, subscribe again and
        read the cluster's state afresh. redis-py may reconnect and
        subscribe again by itself, inside ``listen``: each confirmation of
        the cluster's channel after the first says a new connection, so the
        rejoin follows either way."""
        subscribed = 0  # confirmations of the cluster's channel
        live = False  # what to say when the connection is lost: once per outage
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._names.all, self._names.channel(self.node))
                self._subscribed.set()
                async for message in pubsub.listen():
                    if (message["type"] == "subscribe"
                            and message["channel"] == self._names.all_bytes):
                        subscribed += 1
                        live = True
                        if subscribed > 1:
                            self._start_rejoin()
                        continue
                    if message["type"] != "message":
                        continue
                    if message["channel"] == self._names.all_bytes:
                        records = [message["data"]]
                    else:
                        records = unpack(message["data"])
                    for record in records:
                        try:
                            if message["channel"] != self._names.all_bytes:
                                self._on_frames(record)
                            elif self._early is not None:
                                self._early.append(orjson.loads(record))
                            else:
                                self._on_all(orjson.loads(record))
                        except Exception:  # one bad record must not stop the bus
                            log.exception("bus message failed: %r", record[:200])
            except (RedisError, OSError) as exc:
                if live:
                    log.warning("cluster bus: Redis connection lost (%s); reconnecting", exc)
                live = False
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _start_rejoin(self) -> None:
        """Subscribed again: what the others announce from now on waits
        (``_early``) while their state is read, then is applied on top."""
        if self._early is None:
            self._early = []
        task = asyncio.create_task(self._rejoin(), name="bus-rejoin")
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _rejoin(self) -> None:
        """After Redis came back (perhaps empty, perhaps after the others
        took this node for dead): the others' state again, and ours written
        anew (this node's name in the cluster first, so that a node reading
        the cluster meanwhile finds our devices)."""
        try:
            await self._redis.hset(self._names.nodes, self.node, str(time.time()))
            self._remote.clear()
            self._of_node.clear()
            self._rooms.clear()
            self._heard.clear()
            self._rounds.reset()
            await self._read_cluster()
        except (RedisError, OSError) as exc:
            log.warning("cluster bus: reading the cluster again failed (%s)", exc)
        finally:
            early, self._early = self._early or [], None
            for doc in early:
                self._on_all(doc)
        for sdkappid, user in list(self._by_identity):
            self._announce(Identity(sdkappid, user))
        for room, count in list(self._room_counts.items()):
            self._room_counts.pop(room)
            self.room_members(room, count)
        log.info("cluster bus: rejoined (%d other nodes, %d identities online there)",
                 len(self._heard), len(self._remote))

    def _on_all(self, doc: list[Any]) -> None:
        kind, node = doc[0], doc[1]
        if node == self.node:
            return
        if kind == "bye":
            self._drop(node)
            return
        if kind in ("h", "p", "r", "b"):  # a node's own news (not the CLI's changes)
            self._heard[node] = time.monotonic()
        if kind == "h":
            if len(doc) > 2:
                self._deaf.discard(node)
            elif node not in self._deaf:
                self._deaf.add(node)  # an older version: it answers no round
                self._rounds.gone(node)
        elif kind == "b":
            self._acknowledge(node, doc[2])
        elif kind == "p":
            self._set_remote(node, (doc[2], doc[3]), doc[4])
        elif kind == "r":
            set_count(self._rooms, doc[2], node, doc[3])
        elif kind == "c":
            for handler in self._on_change.get(doc[2], ()):
                try:
                    handler(doc[3])
                except Exception:
                    log.exception("change %s failed", doc[2])
        elif kind == "k":
            identity = Identity(doc[2], doc[3])
            if (identity.sdkappid, identity.user_id) in self._by_identity:
                LocalBus.disconnect_all(self, identity, doc[4], doc[5])
                self._announce(identity)

    def _set_remote(self, node: str, key: tuple[int, str],
                    devices: list[dict[str, Any]]) -> None:
        nodes = self._remote.get(key)
        if devices:
            if nodes is None:
                nodes = self._remote[key] = {}
            nodes[node] = devices
            self._of_node.setdefault(node, set()).add(key)
        elif nodes is not None:
            nodes.pop(node, None)
            if not nodes:
                del self._remote[key]
            self._of_node.get(node, set()).discard(key)

    def _drop(self, node: str) -> None:
        """A node stopped or died: its devices are gone."""
        self._heard.pop(node, None)
        self._deaf.discard(node)
        self._rounds.gone(node)
        for room in [r for r, nodes in self._rooms.items() if node in nodes]:
            set_count(self._rooms, room, node, 0)
        for key in self._of_node.pop(node, ()):
            nodes = self._remote.get(key)
            if nodes is not None:
                nodes.pop(node, None)
                if not nodes:
                    del self._remote[key]

    # -- what goes out ----------------------------------------------------------

    def _send(self, command: Command) -> None:
        self._pending.append(command)
        self._wake.set()

    async def _send_loop(self) -> None:
        failing = False  # said once per outage, not every 0.2 s
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush()
                failing = False
            except (RedisError, OSError) as exc:
                # Frames lost here are read by the devices' next sync.
                if not failing:
                    log.warning("cluster bus: could not publish (%s)", exc)
                failing = True
                await asyncio.sleep(0.2)

    async def _flush(self) -> None:
        """Send what is queued in one round trip; the frames for one node
        go as one Redis message, in the order they were queued."""
        while self._pending:
            commands, self._pending = self._pending, []
            # The round goes last: a node that reads it has read the news.
            round_no = self._rounds.take(self._heard.keys() - self._deaf)
            if round_no is not None:
                commands.append(("publish", self._names.all,
                                 orjson.dumps(["b", self.node, round_no])))
            frames: dict[str, list[bytes]] = {}
            out: list[Command] = []
            for command in commands:
                if command[0] == "publish" and command[1].startswith(self._names.node_prefix):
                    if command[1] not in frames:
                        frames[command[1]] = []
                        out.append(("publish", command[1], frames[command[1]]))
                    frames[command[1]].append(command[2])
                else:
                    out.append(command)
            async with self._redis.pipeline(transaction=False) as pipe:
                for name, *args in out:
                    if name == "publish" and isinstance(args[1], list):
                        args[1] = pack(args[1])
                    getattr(pipe, name)(*args)
                await pipe.execute()

    @property
    def _beat_doc(self) -> bytes:
        # The 1: this node answers the login window's rounds.
        return orjson.dumps(["h", self.node, 1])

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            self._order.prune()
            self._send(("hset", self._names.nodes, self.node, str(time.time())))
            self._send(("publish", self._names.all, self._beat_doc))
            now = time.monotonic()
            for node, heard in list(self._heard.items()):
                if now - heard > self._timeout:
                    log.warning("cluster node %s silent for %.0f s: taken for dead", node,
                                now - heard)
                    self._drop(node)
                    self._send(("hdel", self._names.nodes, node))
                    self._send(("delete", self._names.presence(node), self._names.rooms(node)))
