"""Tidings as a cluster (docs/cluster.md): three ``tidings serve`` processes
sharing one PostgreSQL database and one Redis. Live delivery crosses
processes (one-to-one, groups, typing); sends into one conversation from
all three get distinct, gapless seqs and no refusal; a resend that lands on
another process gets the first ack; and the setups that cannot work refuse
to start with one clear line.

Longer than 500 lines: most tests share one module fixture of three
processes (starting them costs seconds on a loaded machine), and the
helpers they share (presence, eventually, refused starts) live with them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from TLSSigAPIv2 import TLSSigAPIv2

from tests.app_server import AppServer, Reply
from tests.pg import Cluster, free_port
from tests.redis_server import RedisServer
from tests.slow_link import SlowLink
from tests.support import App, Conn, ProcessServer, Server
from tidings.domain import link_tickets

pytestmark = pytest.mark.process_server("several tidings serve processes on one database")


def cluster_env(redis_server: RedisServer) -> dict[str, str]:
    """A cluster of its own on the tests' Redis (its keys and channels apart)."""
    return {"TIDINGS_REDIS_URL": redis_server.url,
            "TIDINGS_CLUSTER_NAME": f"test-{uuid.uuid4().hex[:8]}"}


@pytest.fixture(scope="module")
def nodes(pg_cluster: Cluster | None, redis_server: RedisServer,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """Three processes on one PostgreSQL database and one Redis; the third
    hears Redis 40 ms late (a far Redis, or a busy process: the login
    window's test needs one)."""
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    redis_server.flush()
    url = pg_cluster.new_database()
    servers: list[Server] = []
    env = cluster_env(redis_server)  # one cluster: the same name for the three
    slow = SlowLink("127.0.0.1", redis_server.port, 0.04).start()
    try:
        for i in range(3):
            # Caches live an hour: what one process changes reaches the
            # others through the bus or not at all (within the tests). An
            # entry waits for its predecessor from another process up to
            # 3 s: on a loaded machine a process may not run for 100 ms.
            server = ProcessServer(tmp_path_factory.mktemp(f"node{i}"), url,
                                   {**env, "TIDINGS_APP_CACHE_TTL": "3600",
                                    "TIDINGS_CLUSTER_ORDER_WAIT": "3",
                                    **({"TIDINGS_REDIS_URL": slow.url()} if i == 2 else {})})
            server.start()
            servers.append(server)
        yield servers
    finally:
        for server in servers:
            server.stop()
        slow.stop()


@pytest.fixture(scope="module")
def app(nodes: list[Server]) -> App:
    return nodes[0].create_app("Cluster")


def user(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def seen_online(server: Server, app: App, user_id: str) -> None:
    """Wait until ``server`` knows that ``user_id`` is connected (to any
    process): presence reaches the others a moment after a login."""
    with server.http(app, app.admin) as http:
        for _ in range(200):
            reply = http.get(f"/v1/admin/accounts/{user_id}/online")
            assert reply.status_code == 200, reply.text
            if reply.json()["online"]:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{user_id} never seen online from {server.base_url}")


async def eventually(attempt: Callable[[], Awaitable[bool]], what: str) -> None:
    """What one process changed reaches the others a moment later: try
    until it holds (each try a real request)."""
    for _ in range(100):
        if await attempt():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_one_to_one_messages_reach_a_device_on_another_process(
        nodes: list[Server], app: App) -> None:
    alice, bob = user("alice"), user("bob")
    a = await Conn.login(nodes[0], app, alice)
    b = await Conn.login(nodes[1], app, bob)
    await seen_online(nodes[0], app, bob)
    await seen_online(nodes[1], app, alice)
    sent = await a.send_text(f"c2c_{bob}", "hello across")
    assert sent["ok"], sent
    got = await b.event("message")
    assert (got["sender"], got["seq"], got["elements"][0]["text"]) == (
        alice, sent["data"]["seq"], "hello across")
    back = await b.send_text(f"c2c_{alice}", "hello back")
    got = await a.event("message")
    assert (got["sender"], got["seq"]) == (bob, back["data"]["seq"])
    assert got["seq"] == sent["data"]["seq"] + 1
    # Typing goes the same way.
    typing = await a.request("typing", {"conversation_id": f"c2c_{bob}"})
    assert typing["ok"], typing
    assert (await b.event("typing"))["conversation_id"] == f"c2c_{alice}"
    for conn in (a, b):
        await conn.close()


async def test_a_group_message_reaches_members_on_every_process(
        nodes: list[Server], app: App) -> None:
    names = [user(n) for n in ("owner", "m1", "m2", "m3")]
    conns = [await Conn.login(nodes[i % 3], app, name) for i, name in enumerate(names)]
    for name in names[1:]:
        await seen_online(nodes[0], app, name)
    group = f"g-{uuid.uuid4().hex[:10]}"
    created = await conns[0].request("group_create", {"type": "Work", "group_id": group,
                                                      "members": names[1:]})
    assert created["ok"], created
    sent = await conns[0].send_text(f"group_{group}", "to all")
    assert sent["ok"], sent
    for conn in conns[1:]:
        got = await conn.event("message")
        assert (got["conversation_id"], got["seq"], got["sender"]) == (
            f"group_{group}", sent["data"]["seq"], names[0])
    # A member on the third process answers: the others get it, once.
    reply = await conns[2].send_text(f"group_{group}", "from node 2")
    for conn in (conns[0], conns[1], conns[3]):
        got = await conn.event("message")
        assert got["seq"] == reply["data"]["seq"] == sent["data"]["seq"] + 1
        await conn.no_event("message", 0.2)
    for conn in conns:
        await conn.close()


async def test_a_live_room_spans_the_processes(nodes: list[Server], app: App) -> None:
    names = [user(n) for n in ("host", "v1", "v2", "v3")]
    conns = [await Conn.login(nodes[i % 3], app, name) for i, name in enumerate(names)]
    group = f"live-{uuid.uuid4().hex[:10]}"
    made = await conns[0].request("group_create", {"type": "AVChatRoom", "group_id": group})
    assert made["ok"], made
    for conn in conns:
        joined = await conn.request("live_join", {"group_id": group})
        assert joined["ok"], joined

    async def counted() -> bool:
        reply = await conns[1].request("live_members", {"group_id": group})
        assert reply["ok"], reply
        return bool(reply["data"]["member_count"] == len(names))

    await eventually(counted, "every process's members are counted")
    sent = await conns[0].request("live_send", {
        "group_id": group, "client_msg_id": uuid.uuid4().hex, "priority": "Normal",
        "elements": [{"type": "text", "text": "to the room"}]})
    assert sent["ok"], sent
    for conn in conns[1:]:
        got = await conn.event("live_message")
        assert (got["msg_id"], got["sender"]) == (sent["data"]["msg_id"], names[0])
        await conn.no_event("live_message", 0.2)
    # Disbanded through one process: the room closes on every one.
    assert (await conns[0].request("group_disband", {"group_id": group}))["ok"]
    for conn in conns[1:]:
        assert (await conn.event("live_closed"))["group_id"] == group
    for conn in conns:
        await conn.close()


async def test_a_linked_identitys_messages_reach_its_home_device_on_another_process(
        nodes: list[Server], app: App) -> None:
    home = nodes[0].home_app()
    bob, carol, h_carol = user("bob"), user("carol"), user("h-carol")
    carol_home = await Conn.login(nodes[1], home, h_carol)
    link_ticket = str(TLSSigAPIv2(app.sdkappid, app.secret_key).gen_sig_with_userbuf(
        carol, 300, link_tickets.LINK_PURPOSE))
    made = await carol_home.request("link_confirm", {"sdkappid": app.sdkappid,
                                                     "ticket": link_ticket})
    assert made["ok"], made
    bob_shop = await Conn.login(nodes[0], app, bob)
    await seen_online(nodes[0], home, h_carol)

    # Bob writes to carol (no device of carol in the app anywhere): the
    # process that stores it learns of the link made on another, and relays
    # to carol's home device there.
    async def relayed() -> bool:
        sent = await bob_shop.send_text(f"c2c_{carol}", "for your messenger")
        assert sent["ok"], sent
        try:
            got = await carol_home.event("message", 0.5)
        except TimeoutError:
            return False
        assert got["conversation_id"] == f"app:{app.sdkappid}:c2c_{bob}", got
        # (A slow relay of an earlier try may be the one that came.)
        assert got["seq"] <= sent["data"]["seq"]
        return True

    await eventually(relayed, "bob's message relayed to carol's home device")
    for conn in (carol_home, bob_shop):
        await conn.close()


async def test_a_device_logging_in_while_another_process_sends_misses_nothing(
        nodes: list[Server], app: App) -> None:
    """The login window (docs/cluster.md): alice sends without pause
    through the process that hears Redis late, to one bob after another,
    each logging in (for the first time: no process knows of him) on
    another process as the sends to him begin. Each gets live every
    message past what its first sync answered, without a second sync."""
    alice = user("alice")
    senders = [await Conn.login(nodes[2], app, alice, sync=False) for _ in range(3)]
    bobs: list[str] = []
    acked: dict[str, list[int]] = {}
    stop = asyncio.Event()

    async def send_on(conn: Conn) -> None:
        while not stop.is_set():
            bob = bobs[-1]
            reply = await conn.send_text(f"c2c_{bob}", "x")
            if not reply["ok"] and reply["error"]["code"] == 10005:
                # The connection's frame rate (100/s) met on a fast
                # machine: a refused send is not stored; slow down.
                await asyncio.sleep(0.05)
                continue
            assert reply["ok"], reply
            acked[bob].append(reply["data"]["seq"])

    devices: list[tuple[str, Conn, int]] = []
    sending: list[asyncio.Task[None]] = []
    try:
        for _ in range(8):
            bob = user("bob")
            acked[bob] = []
            bobs.append(bob)
            if not sending:  # three sends in flight on each connection
                sending = [asyncio.create_task(send_on(c)) for c in senders for _ in range(3)]
            # The sync right behind the login, without waiting for its
            # answer: the narrowest window a client can make.
            device = await Conn.open(nodes[1])
            login, sync = await asyncio.gather(
                device.request("login", {"sdkappid": app.sdkappid, "user_id": bob,
                                         "usersig": app.sig(bob)}),
                device.request("sync", {"known": {}}))
            assert login["ok"] and sync["ok"], (login, sync)
            synced = [m["seq"] for m in sync["data"]["messages"]
                      if m["conversation_id"] == f"c2c_{alice}"]
            devices.append((bob, device, max(synced, default=0)))
            await asyncio.sleep(0.15)
    finally:
        stop.set()
        await asyncio.gather(*sending)
    for bob, device, synced_to in devices:
        last = max(acked[bob])
        live: list[int] = []
        while synced_to < last and (not live or live[-1] < last):
            live.append((await device.event("message"))["seq"])
        # Every seq past the sync's point, live, each once, in order.
        assert live == list(range(synced_to + 1, last + 1)), (bob, synced_to, live[:10])
    for conn in [*senders, *(d for _, d, _ in devices)]:
        await conn.close()


async def test_a_raw_client_gets_entries_from_three_processes_in_seq_order(
        nodes: list[Server], app: App) -> None:
    """Order across processes (docs/cluster.md): alice sends into one
    conversation through the three processes at once; bob's raw client
    (no SDK to reorder for it) sees every seq once, in order."""
    alice, bob = user("alice"), user("bob")
    b = await Conn.login(nodes[0], app, bob)
    senders = [await Conn.login(node, app, alice, sync=False) for node in nodes]
    for node in nodes:
        await seen_online(node, app, bob)
    first = await senders[0].send_text(f"c2c_{bob}", "first")
    assert (await b.event("message"))["seq"] == first["data"]["seq"] == 1
    per_process = 40

    async def burst(conn: Conn) -> None:
        for i in range(per_process):
            reply = await conn.send_text(f"c2c_{bob}", f"m{i}")
            assert reply["ok"], reply

    await asyncio.gather(*(burst(c) for c in senders))
    got = [(await b.event("message"))["seq"] for _ in range(3 * per_process)]
    assert got == list(range(2, 3 * per_process + 2)), str(got)
    for conn in (b, *senders):
        await conn.close()


async def test_a_member_added_through_one_process_sends_through_another(
        nodes: list[Server], app: App) -> None:
    """The second process remembers the group from before the invitation:
    it must not refuse the new member on that memory."""
    owner, dave = user("owner"), user("dave")
    o1 = await Conn.login(nodes[1], app, owner)
    group = f"g-{uuid.uuid4().hex[:10]}"
    assert (await o1.request("group_create", {"type": "Work", "group_id": group}))["ok"]
    assert (await o1.send_text(f"group_{group}", "before"))["ok"]
    o0 = await Conn.login(nodes[0], app, owner)
    invited = await o0.request("group_invite", {"group_id": group, "user_ids": [dave]})
    assert invited["ok"], invited
    d1 = await Conn.login(nodes[1], app, dave)
    sent = await d1.send_text(f"group_{group}", "hello, I am new")
    assert sent["ok"], sent
    assert sent["data"]["seq"] == 4  # created, "before", the invitation, this
    for conn in (o1, o0, d1):
        await conn.close()


async def test_a_live_group_made_again_through_one_process_takes_sends_on_another(
        nodes: list[Server], app: App) -> None:
    """The writer's group memory (docs/cluster.md): a Live group's changes
    move no seq, so the seq check cannot tell another process's writer;
    here it is disbanded and made again, a Work group of the same id,
    through one process, while the other remembers the Live one."""
    owner = user("owner")
    o0 = await Conn.login(nodes[0], app, owner)
    o1 = await Conn.login(nodes[1], app, owner)
    group = f"g-{uuid.uuid4().hex[:10]}"
    made = await o0.request("group_create", {"type": "AVChatRoom", "group_id": group})
    assert made["ok"], made
    refused = await o1.send_text(f"group_{group}", "stored?")  # remembered: a Live group
    assert not refused["ok"], refused
    assert (await o0.request("group_disband", {"group_id": group}))["ok"]
    made = await o0.request("group_create", {"type": "Work", "group_id": group})
    assert made["ok"], made
    sent = await o1.send_text(f"group_{group}", "to the new group")
    assert sent["ok"], sent
    assert sent["data"]["seq"] == 2  # created, this
    for conn in (o0, o1):
        await conn.close()


async def test_sends_from_three_processes_into_one_conversation_get_every_seq_once(
        nodes: list[Server], app: App) -> None:
    alice, bob = user("alice"), user("bob")
    senders = [await Conn.login(node, app, alice) for node in nodes]
    per_process = 20

    async def burst(conn: Conn, tag: int) -> list[dict[str, Any]]:
        replies = await asyncio.gather(*(conn.send_text(f"c2c_{bob}", f"{tag}-{i}")
                                         for i in range(per_process)))
        return list(replies)

    replies = [r for batch in await asyncio.gather(*(burst(c, i) for i, c in
                                                     enumerate(senders)))
               for r in batch]
    refused = [r for r in replies if not r["ok"]]
    assert not refused, refused[:3]
    seqs = sorted(r["data"]["seq"] for r in replies)
    assert seqs == list(range(1, 3 * per_process + 1))
    # What is stored says the same: the conversation's last seq, and one row each.
    pair = {"a": min(alice, bob), "b": max(alice, bob)}
    assert await nodes[2].sql("SELECT last_seq FROM conversations WHERE a = :a AND b = :b",
                              **pair) == 3 * per_process
    assert await nodes[2].sql(
        "SELECT count(DISTINCT m.seq) FROM messages m JOIN conversations c"
        " ON c.id = m.conversation_id WHERE c.a = :a AND c.b = :b", **pair) == 3 * per_process
    for conn in senders:
        await conn.close()


async def test_a_resend_on_another_process_gets_the_first_ack(
        nodes: list[Server], app: App) -> None:
    alice, bob = user("alice"), user("bob")
    first = await Conn.login(nodes[0], app, alice)
    second = await Conn.login(nodes[1], app, alice)
    client_msg_id = uuid.uuid4().hex
    acked = await first.send_text(f"c2c_{bob}", "once", client_msg_id)
    again = await second.send_text(f"c2c_{bob}", "once", client_msg_id)
    assert acked["ok"] and again["ok"], (acked, again)
    assert again["data"]["seq"] == acked["data"]["seq"]
    assert again["data"]["msg_id"] == acked["data"]["msg_id"]
    assert again["data"]["duplicate"] is True
    # Both at once, on two processes: one message.
    client_msg_id = uuid.uuid4().hex
    both = await asyncio.gather(first.send_text(f"c2c_{bob}", "race", client_msg_id),
                                second.send_text(f"c2c_{bob}", "race", client_msg_id))
    assert all(r["ok"] for r in both), both
    assert both[0]["data"]["seq"] == both[1]["data"]["seq"]
    assert sorted(r["data"]["duplicate"] for r in both) == [False, True]
    assert await nodes[2].sql("SELECT count(*) FROM messages WHERE client_msg_id = :c",
                              c=client_msg_id) == 1
    for conn in (first, second):
        await conn.close()


async def test_a_block_made_on_one_process_holds_on_another(
        nodes: list[Server], app: App) -> None:
    alice, bob = user("alice"), user("bob")
    a = await Conn.login(nodes[2], app, alice)
    b = await Conn.login(nodes[0], app, bob)
    # Alice's process has bob's lists in memory once she wrote to him.
    assert (await a.send_text(f"c2c_{bob}", "before"))["ok"]
    blocked = await b.request("block", {"user_ids": [alice]})
    assert blocked["ok"], blocked
    # The news reaches alice's process a moment later; from then on her
    # messages are dropped (the app's default: a blocked sender sees "sent").
    async def dropped() -> bool:
        reply = await a.send_text(f"c2c_{bob}", "after")
        assert reply["ok"], reply
        return reply["data"]["msg_id"] == ""

    await eventually(dropped, "alice's process learns of bob's block")
    for conn in (a, b):
        await conn.close()


async def test_an_account_muted_on_one_process_is_muted_on_another(
        nodes: list[Server], app: App) -> None:
    alice, bob = user("alice"), user("bob")
    a = await Conn.login(nodes[1], app, alice)
    assert (await a.send_text(f"c2c_{bob}", "before"))["ok"]
    with nodes[0].http(app, app.admin) as http:
        reply = http.put(f"/v1/admin/accounts/{alice}/mute", json={"c2c_seconds": 600})
        assert reply.status_code == 200, reply.text

    async def muted() -> bool:
        reply = await a.send_text(f"c2c_{bob}", "now?")
        assert reply["ok"] or reply["error"]["code"] == 20012, reply
        return not reply["ok"]

    await eventually(muted, "alice's process learns of her mute")
    with nodes[2].http(app, app.admin) as http:
        reply = http.put(f"/v1/admin/accounts/{alice}/mute", json={"c2c_seconds": 0})
        assert reply.status_code == 200, reply.text

    async def unmuted() -> bool:
        reply = await a.send_text(f"c2c_{bob}", "again")
        assert reply["ok"] or reply["error"]["code"] == 20012, reply
        return bool(reply["ok"])

    await eventually(unmuted, "alice's process learns she may speak again")
    await a.close()


def not_friends(conn: Conn, peer: str) -> Callable[[], Awaitable[bool]]:
    """A try of ``eventually``: a message to ``peer`` refused as not friends."""
    async def refused() -> bool:
        reply = await conn.send_text(f"c2c_{peer}", "now?")
        assert reply["ok"] or reply["error"]["code"] == 20009, reply
        return not reply["ok"]
    return refused


async def test_the_apps_one_to_one_rules_changed_on_one_process_hold_on_another(
        nodes: list[Server]) -> None:
    app = nodes[0].create_app("Rules")
    alice, bob = user("alice"), user("bob")
    a = await Conn.login(nodes[1], app, alice)
    assert (await a.send_text(f"c2c_{bob}", "no friendship needed yet"))["ok"]
    with nodes[0].http(app, app.admin) as http:
        reply = http.put("/v1/admin/settings/c2c", json={"needs_friendship": True})
        assert reply.status_code == 200, reply.text
    await eventually(not_friends(a, bob), "the rules changed on another process hold here")
    await a.close()


async def test_a_change_made_with_the_cli_reaches_the_servers_at_once(
        nodes: list[Server]) -> None:
    """The servers keep the app's rules an hour here: only the CLI's news,
    published on the cluster's Redis, can make them read the rules again."""
    app = nodes[0].create_app("Cli")
    alice, bob = user("alice"), user("bob")
    a = await Conn.login(nodes[2], app, alice)
    assert (await a.send_text(f"c2c_{bob}", "before"))["ok"]
    nodes[0].cli("app", "update", str(app.sdkappid), "--c2c-needs-friendship")

    await eventually(not_friends(a, bob), "the CLI's change holds on a server")
    await a.close()


async def test_a_kick_and_a_disable_on_one_process_reach_the_others(
        nodes: list[Server], app: App) -> None:
    alice = user("alice")
    devices = [await Conn.login(node, app, alice) for node in nodes[1:]]
    for node in nodes:
        await seen_online(node, app, alice)
    with nodes[0].http(app, app.admin) as http:
        kicked = http.post(f"/v1/admin/accounts/{alice}/kick")
        assert kicked.status_code == 200, kicked.text
        assert kicked.json()["sessions_closed"] == 2
    for device in devices:
        code, _ = await asyncio.wait_for(device.closed, 10)
        assert code == 4005
    # Disabled on one process: a login on another, which had the account's
    # state in memory since its device logged in, is refused.
    with nodes[0].http(app, app.admin) as http:
        assert http.post(f"/v1/admin/accounts/{alice}/disable").status_code == 200
    async def login_refused() -> bool:
        conn = await Conn.open(nodes[2])
        reply = await conn.request("login", {"sdkappid": app.sdkappid, "user_id": alice,
                                             "usersig": app.sig(alice)})
        await conn.close()
        assert reply["ok"] or reply["error"]["code"] == 70051, reply
        return not reply["ok"]

    await eventually(login_refused, "the other process learns of the disable")


async def test_each_after_send_callback_is_posted_once_by_one_of_the_processes(
        nodes: list[Server]) -> None:
    """Every process's dispatcher polls the one outbox: each row is claimed
    by one of them (FOR UPDATE SKIP LOCKED and a lease), never posted twice."""
    app = nodes[0].create_app("Callbacks")
    app_server = AppServer().start()
    try:
        with nodes[0].http(app, app.admin) as http:
            # The longest timeout: a post answered late on a loaded machine
            # is retried (at least once, by design) and would look like a
            # second claim.
            reply = http.put("/v1/admin/callbacks", json={
                "url": app_server.url, "timeout_ms": 10_000,
                "events": {"before_send": False, "state_change": False}})
            assert reply.status_code == 200, reply.text
        # The other processes are told to read the app's callback settings
        # again (their cache would keep them an hour): a moment for the news.
        await asyncio.sleep(0.5)
        alice, bob = user("alice"), user("bob")
        conns = [await Conn.login(node, app, alice) for node in nodes]
        per_process = 15
        replies = await asyncio.gather(*(conn.send_text(f"c2c_{bob}", f"{i}-{j}")
                                         for i, conn in enumerate(conns)
                                         for j in range(per_process)))
        assert all(r["ok"] for r in replies), replies
        calls = await app_server.wait_for("after_send", 3 * per_process, timeout=30)
        # Past the poll interval of every dispatcher: still one post each.
        await asyncio.sleep(2.5)
        calls = app_server.of("after_send")
        ids = [c.headers["x-tidings-event-id"] for c in calls]
        assert len(ids) == len(set(ids)) == 3 * per_process
        assert await nodes[0].sql(
            "SELECT count(*) FROM callback_outbox WHERE sdkappid = :a AND status = 'delivered'",
            a=app.sdkappid) == 3 * per_process
        for conn in conns:
            await conn.close()
    finally:
        app_server.stop()


async def synced(conn: Conn, conversation_id: str) -> list[dict[str, Any]]:
    """Every entry of one conversation through sync, from the start (all pages)."""
    got: list[dict[str, Any]] = []
    known = {conversation_id: 0}
    while True:
        reply = await conn.request("sync", {"known": known})
        assert reply["ok"], reply
        mine = [m for m in reply["data"]["messages"] if m["conversation_id"] == conversation_id]
        got += mine
        if mine:
            known[conversation_id] = mine[-1]["seq"]
        if not reply["data"]["more"]:
            return got


async def test_a_process_killed_under_load_loses_no_acked_message(
        tmp_path: Path, pg_cluster: Cluster | None, redis_server: RedisServer) -> None:
    """kill -9 of the process a sender is connected to, while it sends: the
    sender reconnects to another process, resends what was not acked (same
    client ids), and every message is there once, seqs gapless; the peer on
    the other process syncs the same."""
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    url = pg_cluster.new_database()
    env = cluster_env(redis_server)
    doomed, survivor = (ProcessServer(tmp_path / name, url, env) for name in ("a", "b"))
    doomed.start()
    survivor.start()
    try:
        app = survivor.create_app("Kill")
        alice, bob = user("alice"), user("bob")
        a = await Conn.login(doomed, app, alice)
        b = await Conn.login(survivor, app, bob)
        ids = [uuid.uuid4().hex for _ in range(60)]
        pending = [asyncio.ensure_future(a.send_text(f"c2c_{bob}", str(i), client_msg_id))
                   for i, client_msg_id in enumerate(ids)]
        for done, future in enumerate(asyncio.as_completed(pending), 1):
            await future
            if done == 10:
                break
        doomed.kill9()
        await asyncio.wait(pending, timeout=15)
        acked = {p.result()["data"]["client_msg_id"]: p.result()["data"]["seq"]
                 for p in pending if not p.exception() and p.result().get("ok")}
        assert len(acked) >= 10
        # Alice comes back through the other process and resends the rest.
        again = await Conn.login(survivor, app, alice)
        for i, client_msg_id in enumerate(ids):
            if client_msg_id not in acked:
                reply = await again.send_text(f"c2c_{bob}", str(i), client_msg_id)
                assert reply["ok"], reply
                acked[client_msg_id] = reply["data"]["seq"]
        for conn in (again, b):
            entries = await synced(conn, f"c2c_{bob if conn is again else alice}")
            assert [m["seq"] for m in entries] == list(range(1, len(ids) + 1))
            assert sorted(m["client_msg_id"] for m in entries) == sorted(ids)
            assert {m["client_msg_id"]: m["seq"] for m in entries} == acked
        for conn in (again, b):
            await conn.close()
    finally:
        survivor.stop()
        doomed.stop()


async def test_a_callback_claimed_by_a_process_killed_mid_post_is_posted_by_another(
        tmp_path: Path, pg_cluster: Cluster | None, redis_server: RedisServer) -> None:
    """A process claims an after-send callback and dies (kill -9) while the
    app's server holds the request: the claim's lease ends and another
    process posts it, once, and records it delivered."""
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    url = pg_cluster.new_database()
    env = {**cluster_env(redis_server), "TIDINGS_CLUSTER_LEASE": "3"}
    first = ProcessServer(tmp_path / "first", url, env)
    first.start()
    app_server = AppServer().start()
    # The first post hangs (its process dies meanwhile); the next are answered.
    app_server.answer(lambda call: Reply(delay=30) if len(app_server.calls) == 1 else Reply())
    second = ProcessServer(tmp_path / "second", url, env)
    try:
        app = first.create_app("Lease")
        with first.http(app, app.admin) as http:
            reply = http.put("/v1/admin/callbacks", json={
                "url": app_server.url, "timeout_ms": 2500,
                "events": {"before_send": False, "state_change": False}})
            assert reply.status_code == 200, reply.text
        alice = await Conn.login(first, app, user("alice"))
        sent = await alice.send_text(f"c2c_{user('bob')}", "after me, a callback")
        assert sent["ok"], sent
        [held] = await app_server.wait_for("after_send")
        first.kill9()
        second.start()
        calls = await app_server.wait_for("after_send", 2, timeout=60)
        assert [c.headers["x-tidings-event-id"] for c in calls] == [
            held.headers["x-tidings-event-id"]] * 2
        assert calls[1].doc["data"]["seq"] == sent["data"]["seq"]

        async def recorded() -> bool:  # the outcome is written just after the answer
            return bool(await second.sql(
                "SELECT status FROM callback_outbox WHERE sdkappid = :a",
                a=app.sdkappid) == "delivered")

        await eventually(recorded, "the second process records the callback delivered")
    finally:
        second.stop()
        first.stop()
        app_server.stop()


# -- setups that refuse to start ---------------------------------------------------


def refused_start(server: Server) -> str:
    """Start ``tidings serve`` with the server's settings; it must exit at
    once with status 2. Its output."""
    server.data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "tidings", "serve"], env=server.env,
                          capture_output=True, text=True, timeout=90)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output, output
    return output


def test_a_second_process_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    first = ProcessServer(tmp_path / "data", "")
    first.start()
    try:
        output = refused_start(ProcessServer(tmp_path / "data", ""))
        assert "another tidings serve process uses" in output
        assert httpx.get(f"{first.base_url}/healthz", timeout=5).status_code == 200
    finally:
        first.stop()


def test_redis_with_sqlite_refuses_to_start(tmp_path: Path, redis_server: RedisServer) -> None:
    output = refused_start(ProcessServer(tmp_path / "data", "",
                                         {"TIDINGS_REDIS_URL": redis_server.url}))
    assert "TIDINGS_REDIS_URL is for processes that share a PostgreSQL" in output


def test_an_unreachable_redis_refuses_to_start(tmp_path: Path,
                                               pg_cluster: Cluster | None) -> None:
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    port = free_port()  # nobody listens there
    output = refused_start(ProcessServer(tmp_path / "data", pg_cluster.new_database(),
                                         {"TIDINGS_REDIS_URL": f"redis://127.0.0.1:{port}/0"}))
    assert "cannot reach Redis at TIDINGS_REDIS_URL" in output


def test_postgresql_processes_without_a_shared_redis_refuse_to_start(
        tmp_path: Path, pg_cluster: Cluster | None, redis_server: RedisServer) -> None:
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    url = pg_cluster.new_database()
    alone = ProcessServer(tmp_path / "alone", url)
    alone.start()
    try:
        output = refused_start(ProcessServer(tmp_path / "second", url))
        assert "another tidings serve process uses this PostgreSQL database" in output
        output = refused_start(ProcessServer(tmp_path / "member", url,
                                             cluster_env(redis_server)))
        assert "without TIDINGS_REDIS_URL uses this PostgreSQL database" in output
    finally:
        alone.stop()
    # And the other way round: a cluster member first, then one alone.
    member = ProcessServer(tmp_path / "member2", url, cluster_env(redis_server))
    member.start()
    try:
        output = refused_start(ProcessServer(tmp_path / "alone2", url))
        assert "another tidings serve process uses this PostgreSQL database" in output
    finally:
        member.stop()
