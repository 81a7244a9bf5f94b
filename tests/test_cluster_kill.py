"""A cluster's failures (docs/cluster.md): three ``tidings serve`` processes
on one PostgreSQL database and a Redis of this module's own, and what
happens when one of them, or the Redis, dies under load.

- kill -9 of one process while SDK clients on all three send and receive:
  its clients reconnect to another, resync, and each receiver has every
  acked message once, in order;
- a broadcast whose process dies mid-job is carried on by another within
  the lease (``lease_until``), every recipient's message once;
- a push send held by a process killed mid-request, and a push job whose
  process is killed mid-decision (held there by a fault point), are done
  by another, once;
- the TypeScript SDK's clients, given the three URLs, move on from a
  drained process and from a killed one and miss nothing;
- Redis killed and restarted while devices stay connected: the bus comes
  back, reads the cluster again and announces its devices, so live
  delivery and online state resume without any reconnect of a device.

One set of processes for the module; a test that kills one starts it again
(same port, same data dir) before it ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest

from tests.app_server import AppServer, Call, Reply
from tests.clients.control import control_server
from tests.clients.node import NODE, NPM, PACKAGE, ensure_ready
from tests.pg import Cluster
from tests.push_support import FAST as PUSH_FAST
from tests.push_support import Browser, calls_to, login, ok, wait_calls
from tests.redis_server import RedisServer, find_redis
from tests.support import App, Conn, ProcessServer
from tests.test_cluster import eventually, seen_online, user
from tidings.sdk import Client, Message

pytestmark = [pytest.mark.process_server("kill -9 of cluster members, a Redis killed"),
              # Three processes start (and one starts again) within the first
              # test's time: on a shared 2-core machine whose load was 18,
              # that alone took 2.5 to 4 minutes.
              pytest.mark.timeout(600)]

LEASE = "2"  # seconds: callbacks, pushes and broadcasts of a dead process resume soon
SDK_FAST: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.3,
                            "connect_timeout": 10.0, "request_timeout": 15.0,
                            "send_timeout": 30.0}


@dataclass
class Kit:
    redis: RedisServer
    nodes: list[ProcessServer]
    app: App
    push: AppServer  # the push services (Web Push endpoints)
    faults: Path  # TIDINGS_TEST_FAULTS of every process (services/faults.py)

    def revive(self) -> None:
        """Start again each process a test killed (its port, its data dir),
        side by side: their starts dominate this module's time."""
        down = [node for node in self.nodes if not node.running]
        with ThreadPoolExecutor(max(1, len(down))) as pool:
            for started in [pool.submit(node.start) for node in down]:
                started.result()

    def holder(self, call: Call) -> ProcessServer:
        """The process whose socket made ``call``."""
        for node in self.nodes:
            if node.process is None or not node.running:
                continue
            for conn in psutil.Process(node.process.pid).net_connections(kind="tcp"):
                if conn.laddr and conn.laddr.port == call.client[1]:
                    return node
        raise AssertionError(f"no node made the call from {call.client}")


@pytest.fixture(scope="module")
def kit(pg_cluster: Cluster | None,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    binary = find_redis()
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    redis = RedisServer(binary)  # this module's own: a test kills it
    redis.start()
    push = AppServer().start()
    faults = tmp_path_factory.mktemp("faults")
    url = pg_cluster.new_database()
    env = {**PUSH_FAST, "TIDINGS_REDIS_URL": redis.url, "TIDINGS_CLUSTER_LEASE": LEASE,
           "TIDINGS_CLUSTER_BROADCAST_LEASE": LEASE, "TIDINGS_CLUSTER_HEARTBEAT": "0.5",
           "TIDINGS_CLUSTER_NODE_TIMEOUT": "3", "TIDINGS_APP_CACHE_TTL": "3600",
           # A push is decided a second after its message: the receiver's
           # disconnect is known to every process by then.
           "TIDINGS_PUSH_DELAY": "1", "TIDINGS_TEST_FAULTS": str(faults)}
    nodes: list[ProcessServer] = []
    try:
        for i in range(3):
            node = ProcessServer(tmp_path_factory.mktemp(f"node{i}"), url, env)
            node.start()
            nodes.append(node)
        yield Kit(redis, nodes, nodes[0].create_app("Kill"), push, faults)
    finally:
        for node in nodes:
            node.stop()
        push.stop()
        redis.stop()


# -- kill -9 under load --------------------------------------------------------------


async def test_clients_of_a_process_killed_under_load_resync_on_another_and_miss_nothing(
        kit: Kit) -> None:
    """Six pairs of SDK clients, each pair on two processes, both sides
    sending; the process of four of them is killed a third of the way. Its
    clients reconnect to the next URL they were given, their unacked sends
    go again with their ids, and each receiver's stream holds every acked
    message of its peer once, in seq order, with the acked seq."""
    app, urls = kit.app, [n.ws_url for n in kit.nodes]
    names = [user(f"u{i}") for i in range(12)]
    clients = [Client(urls[i % 3:] + urls[:i % 3], app.sdkappid, name, app.sig(name),
                      **SDK_FAST) for i, name in enumerate(names)]
    peer = {names[i]: names[i ^ 1] for i in range(len(names))}
    per_sender, in_flight = 30, 3
    acked: dict[str, dict[str, int]] = {name: {} for name in names}  # client id -> seq
    got: dict[str, list[Message]] = {name: [] for name in names}
    sent, a_third = 0, asyncio.Event()

    async def send_all(c: Client) -> None:
        nonlocal sent
        slots = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            nonlocal sent
            async with slots:
                ack = await c.send_text(f"c2c_{peer[c.user_id]}", f"{i}")
                acked[c.user_id][ack.client_msg_id] = ack.seq
                sent += 1
                if sent >= len(names) * per_sender // 3:
                    a_third.set()

        await asyncio.gather(*(one(i) for i in range(per_sender)))

    async def receive(c: Client) -> None:
        async for message in c.messages():
            if message.sender == peer[c.user_id]:
                got[c.user_id].append(message)
                if message.text == "end":
                    return

    try:
        for c in clients:
            await c.connect()
        for name in names:
            await seen_online(kit.nodes[0], app, name)
        receivers = [asyncio.create_task(receive(c)) for c in clients]
        senders = asyncio.gather(*(send_all(c) for c in clients))
        await a_third.wait()
        kit.nodes[1].kill9()
        await senders
        for c in clients:  # the last word, after every ack
            ack = await c.send_text(f"c2c_{peer[c.user_id]}", "end")
            acked[c.user_id][ack.client_msg_id] = ack.seq
        await asyncio.wait_for(asyncio.gather(*receivers), 60)
        for name in names:
            stream = got[name]
            assert [m.seq for m in stream] == sorted({m.seq for m in stream}), name
            assert {m.client_msg_id: m.seq for m in stream} == acked[peer[name]], name
        moved = [c for c in clients if c.urls[0] == urls[1]]
        assert len(moved) == 4
        for c in moved:
            assert c.connects >= 2 and c.url != urls[1]
    finally:
        for c in clients:
            await c.close()
        kit.revive()


def test_the_typescript_sdk_moves_on_from_a_drained_process_and_a_killed_one(kit: Kit) -> None:
    """The TypeScript SDK's Node test (clients/typescript/test/cluster.test.mjs)
    on this module's processes, each client given the three URLs: while
    both sides send, the process of one is drained (SIGTERM: its clients
    get 1012), then another's killed (kill -9). Each client goes on to its
    next URL and resyncs; every acked message reaches the peer's devices
    once, in order; an upload then goes through the process connected."""
    if NODE is None or NPM is None:
        pytest.skip("Node.js is not installed")
    ensure_ready()
    env = dict(os.environ, TIDINGS_WS_URL=kit.nodes[0].ws_url,
               TIDINGS_WS_URLS=",".join(n.ws_url for n in kit.nodes),
               TIDINGS_SDKAPPID=str(kit.app.sdkappid))
    try:
        with control_server(kit.nodes, kit.app) as control:
            result = subprocess.run(
                [NODE, "--test", "--test-timeout=240000", "--test-reporter=tap",
                 "test/cluster.test.mjs"], cwd=PACKAGE, env={**env, "TIDINGS_CONTROL": control},
                capture_output=True, text=True, timeout=300)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out[-6000:]
        assert re.search(r"^ok \d+ - a cluster's process drained", out, re.M), out[-6000:]
        assert [n.running for n in kit.nodes] == [True, False, False]
    finally:
        kit.revive()


# -- background work of a dead process -----------------------------------------------


async def test_a_push_send_held_by_a_killed_process_is_sent_by_another_once(
        kit: Kit) -> None:
    """The push service holds the first request (its process is killed
    meanwhile): when the lease ends another process sends it again, the
    same notification, and records it done; nothing more goes.

    Run after the test above, whose messages left every process believing
    that the app has no push device (for the hour of TIDINGS_APP_CACHE_TTL):
    bob's registration through one process must reach the others."""
    app = kit.app
    alice, bob = user("alice"), user("bob")
    browser = Browser.new(kit.push)
    kit.push.answer(lambda call: Reply(201, b"", delay=30)
                    if len(calls_to(kit.push, browser.path)) == 1 else Reply(201, b""))
    bob_conn = await login(kit.nodes[0], app, bob)
    await ok(bob_conn, "push_register", {"channel": "webpush",
                                         "subscription": browser.subscription()})
    await bob_conn.close()
    a = await login(kit.nodes[2], app, alice)
    try:
        ack = await a.send_text(f"c2c_{bob}", "are you there?")
        assert ack["ok"], ack
        [held] = await wait_calls(kit.push, browser.path, timeout=30)
        holder = kit.holder(held)
        holder.kill9()
        calls = await wait_calls(kit.push, browser.path, 2, timeout=30)
        assert kit.holder(calls[1]) is not holder
        assert [browser.read(c)["msg_id"] for c in calls] == [ack["data"]["msg_id"]] * 2

        async def recorded() -> bool:  # a send done is removed from the queue
            return bool(await kit.nodes[1].sql(
                "SELECT count(*) FROM push_sends WHERE sdkappid = :a AND user_id = :u",
                a=app.sdkappid, u=bob) == 0)

        await eventually(recorded, "the send recorded done")
        await asyncio.sleep(float(LEASE) + 1)  # past another lease: still two
        assert len(calls_to(kit.push, browser.path)) == 2
    finally:
        await a.close()
        kit.push.answer(lambda call: Reply(201, b""))
        kit.revive()


async def test_a_push_job_killed_mid_decision_is_decided_by_another_once(kit: Kit) -> None:
    """A process claims a push job, decides it and is killed (kill -9)
    before it records the decision: the fault point ``push.decide``
    (services/faults.py), armed by the test, holds the first process that
    reaches it there. When the lease ends another process decides the job
    again: the push goes once, and the job is gone."""
    app = kit.app
    alice, bob = user("alice"), user("bob")
    browser = Browser.new(kit.push)
    bob_conn = await login(kit.nodes[0], app, bob)
    await ok(bob_conn, "push_register", {"channel": "webpush",
                                         "subscription": browser.subscription()})
    await bob_conn.close()
    held = kit.faults / "push.decide.held"
    a = await login(kit.nodes[1], app, alice)
    try:
        (kit.faults / "push.decide.hold").touch()
        ack = await a.send_text(f"c2c_{bob}", "decided, then killed")
        assert ack["ok"], ack
        job = await kit.nodes[0].sql("SELECT max(id) FROM push_jobs WHERE sdkappid = :a",
                                     a=app.sdkappid)
        for _ in range(600):  # a loaded machine: up to a minute
            if held.exists():
                break
            await asyncio.sleep(0.1)
        marker = orjson.loads(held.read_bytes())
        assert job in marker["detail"], marker
        [holder] = [n for n in kit.nodes if n.process and n.process.pid == marker["pid"]]
        await asyncio.sleep(0.5)
        assert calls_to(kit.push, browser.path) == []  # decided, never recorded nor sent
        holder.kill9()
        [call] = await wait_calls(kit.push, browser.path, timeout=30)
        assert kit.holder(call) is not holder
        assert browser.read(call)["msg_id"] == ack["data"]["msg_id"]

        async def gone() -> bool:
            return bool(await kit.nodes[2].sql(
                "SELECT count(*) FROM push_jobs WHERE id = :j", j=job) == 0)

        await eventually(gone, "the job decided and removed")
        await asyncio.sleep(float(LEASE) + 1)  # past another lease: still one
        assert len(calls_to(kit.push, browser.path)) == 1
    finally:
        await a.close()
        for armed in kit.faults.iterdir():
            armed.unlink()
        kit.revive()


async def test_a_broadcast_whose_process_dies_is_carried_on_by_another(kit: Kit) -> None:
    app = kit.nodes[0].create_app("Broadcast")
    count = 1000
    with kit.nodes[0].http(app, app.admin) as http:
        assert http.post("/v1/admin/accounts/import", json={
            "accounts": [{"user_id": "shop"}]}).status_code == 200
    # Thousands of accounts in one statement (the import API would take
    # longer than the broadcast): two pages of 500, the second walked by
    # another process. (Its push jobs, each decided "no push", come after
    # the push test's.)
    await kit.nodes[0].sql(
        "INSERT INTO users (sdkappid, user_id, created_at) SELECT :a,"
        " 'r' || lpad(g::text, 5, '0'), 0 FROM generate_series(1, :n) g",
        a=app.sdkappid, n=count)
    first = kit.nodes[0]
    with first.http(app, app.admin) as http:
        reply = http.post("/v1/admin/broadcasts", json={
            "from": "shop", "client_msg_id": "all-of-you",
            "elements": [{"type": "text", "text": "to everyone"}]})
        assert reply.status_code == 202, reply.text
        job = reply.json()["broadcast_id"]
    owner = await first.sql("SELECT lease_owner FROM broadcasts WHERE id = :j", j=job)
    assert owner
    # Stopped at once when its first page is recorded, then killed.
    for _ in range(10_000):
        if await first.sql("SELECT sent FROM broadcasts WHERE id = :j", j=job):
            break
        await asyncio.sleep(0.005)
    assert first.process is not None
    os.kill(first.process.pid, signal.SIGSTOP)
    try:
        done_before = await first.sql("SELECT sent FROM broadcasts WHERE id = :j", j=job)
        assert 0 < done_before < count
        first.kill9()

        async def taken_over() -> bool:
            return bool(await kit.nodes[1].sql(
                "SELECT lease_owner FROM broadcasts WHERE id = :j", j=job) != owner)

        await eventually(taken_over, "another process takes the job when the lease ends")
        for _ in range(480):  # the page left (a loaded machine: up to a minute)
            with kit.nodes[2].http(app, app.admin) as http:
                if http.get(f"/v1/admin/broadcasts/{job}").json()["state"] != "running":
                    break
            await asyncio.sleep(0.25)
        with kit.nodes[2].http(app, app.admin) as http:
            view = http.get(f"/v1/admin/broadcasts/{job}").json()
        assert (view["state"], view["sent"], view["skipped"]) == ("done", count, 0), view
        taker = await kit.nodes[1].sql("SELECT lease_owner FROM broadcasts WHERE id = :j",
                                       j=job)
        assert taker and taker != owner
        # Each recipient's message once: one per conversation, no more.
        assert await kit.nodes[1].sql(
            "SELECT count(*) FROM messages WHERE sdkappid = :a AND sender = 'shop'",
            a=app.sdkappid) == count
        assert await kit.nodes[1].sql(
            "SELECT count(DISTINCT conversation_id) FROM messages WHERE sdkappid = :a"
            " AND sender = 'shop'", a=app.sdkappid) == count
    finally:
        kit.revive()


# -- Redis killed and restarted --------------------------------------------------------


async def test_redis_killed_and_restarted_under_load_live_delivery_resumes(kit: Kit) -> None:
    """Devices stay connected to their processes while Redis dies and
    comes back empty. Messages sent meanwhile are stored and acked (the
    database needs no Redis); their live frames are lost, and each device
    reads them by sync. After the restart each process reads the cluster
    again and announces its devices: a message crosses processes live
    again, online state is the cluster's, and a resync finds every message."""
    app = kit.app
    alice, bob = user("alice"), user("bob")
    a = await Conn.login(kit.nodes[0], app, alice)
    b = await Conn.login(kit.nodes[1], app, bob)
    try:
        await seen_online(kit.nodes[0], app, bob)
        first = await a.send_text(f"c2c_{bob}", "before")
        assert (await b.event("message"))["seq"] == first["data"]["seq"]
        kit.redis.crash()
        while_down = [await a.send_text(f"c2c_{bob}", f"while down {i}") for i in range(5)]
        assert all(r["ok"] for r in while_down), while_down
        # Longer than the node timeout (3 s): every process takes the
        # others for dead and forgets their devices.
        await asyncio.sleep(4)
        kit.redis.start()

        async def crosses() -> bool:
            sent = await a.send_text(f"c2c_{bob}", "after")
            assert sent["ok"], sent
            with contextlib.suppress(TimeoutError):
                # (A slow frame of an earlier try may be the one that came.)
                return bool((await b.event("message", 0.5))["seq"] <= sent["data"]["seq"])
            return False

        await eventually(crosses, "a message crosses processes live after the restart")
        with kit.nodes[2].http(app, app.admin) as http:
            online = http.get(f"/v1/admin/accounts/{bob}/online").json()
        assert online["online"], online
        # What the live path lost, the device's sync finds (all of it, once).
        synced = await b.request("sync", {"known": {f"c2c_{alice}": first["data"]["seq"]}})
        seqs = [m["seq"] for m in synced["data"]["messages"]
                if m["conversation_id"] == f"c2c_{alice}"]
        assert seqs[:5] == [r["data"]["seq"] for r in while_down]
        assert seqs == list(range(first["data"]["seq"] + 1, seqs[-1] + 1))
    finally:
        for conn in (a, b):
            await conn.close()
        if kit.redis.process is None or kit.redis.process.poll() is not None:
            kit.redis.start()


# -- the broadcast lease, at the store -------------------------------------------------


async def test_two_processes_claiming_one_broadcast_never_both_hold_it(
        pg_cluster: Cluster | None) -> None:
    """Two stores (two processes' ids) claim at once: one gets the job; the
    other's renewal and page record are refused while the lease holds, and
    it may claim the job once the holder gives it back."""
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    from tidings.store.broadcasts import BroadcastStore
    from tidings.store.engine import migrate, open_database

    db = open_database(pg_cluster.new_database())
    try:
        await migrate(db)
        one, two = (BroadcastStore(db, 60_000, owner) for owner in ("node-one", "node-two"))
        alone = BroadcastStore(db)  # a process alone: no lease, takes every running job
        made, created = await alone.create(1400000001, "shop", "b-1", b"[]", "")
        assert created and made.state == "running"
        got = await asyncio.gather(one.claim(), two.claim())
        assert sorted(len(g) for g in got) == [0, 1]
        holder, other = (one, two) if got[0] else (two, one)
        [held] = got[0] or got[1]
        assert await holder.renew(held.id) and not await other.renew(held.id)
        assert await other.claim() == []
        assert await other.advance(held, "r00500", 500, 0) is None  # fenced by the owner
        moved = await holder.advance(held, "r00500", 500, 0)
        assert moved is not None and (moved.cursor, moved.sent) == ("r00500", 500)
        await holder.release([held.id])
        [taken] = await other.claim()
        assert (taken.id, taken.cursor) == (held.id, "r00500")
        assert not await holder.renew(held.id)
    finally:
        await db.dispose()
