"""The after-callback outbox is durable: rows queued while the app server is
down survive a restart and a ``kill -9``, and in the end every stored message
has exactly one after-send event and no unstored one has any (the row is
written in the message's own transaction).

One event, not one request: delivery is at least once (docs/callbacks.md), so
an attempt whose answer did not come within the app's timeout (a loaded
machine, a server starting up with hundreds of rows due) is sent again with the
same ``event_id``. A repeat is allowed only for such a row, which the outbox
counts as an attempt of its row."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest

from tests.app_server import AppServer
from tests.support import App, Conn, Server
from tests.test_crash import Sender, stored

FAST = {"callback_retry_base": "0.2", "callback_retry_cap": "0.5",
        "callback_poll_interval": "0.1", "rate_limit_per_second": "1000000",
        "rate_limit_burst": "1000000"}


def configure(server: Server, app: App, url: str) -> None:
    with server.http(app, app.admin) as http:
        reply = http.put("/v1/admin/callbacks", json={
            "url": url, "events": {"before_send": False, "state_change": False}})
    assert reply.status_code == 200, reply.text


def pending(server: Server, app: App) -> int:
    with server.http(app, app.admin) as http:
        rows = http.get("/v1/admin/callbacks/deliveries",
                        params={"status": "pending", "limit": 500}).json()["deliveries"]
    return len(rows)


Message = tuple[str, int]  # (sender, seq)


async def seqs_delivered(app_server: AppServer, want: set[Message],
                         timeout: float = 30) -> dict[Message, list[str]]:  # noqa: ASYNC109
    """Wait until every (sender, seq) in ``want`` has an after-send call;
    the event ids of the calls each message got."""
    def seen() -> dict[Message, list[str]]:
        got: dict[Message, list[str]] = defaultdict(list)
        for c in app_server.of("after_send"):
            got[c.data["from"], c.data["seq"]].append(c.headers["x-tidings-event-id"])
        return got
    deadline = asyncio.get_running_loop().time() + timeout
    while not want <= set(seen()):
        if asyncio.get_running_loop().time() > deadline:
            missing = sorted(want - set(seen()))
            raise AssertionError(f"{len(missing)} after-send events never came: {missing[:5]}")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # anything extra would come now
    return seen()


async def assert_one_event_each(server: Server, got: dict[Message, list[str]]) -> None:
    """Each message one event id, and no more requests for it than the
    attempts its outbox row counts (a repeat only after an attempt that failed)."""
    for message, ids in got.items():
        assert len(set(ids)) == 1, (message, ids)
        if len(ids) > 1:
            attempts = await server.sql(
                "SELECT attempts FROM callback_outbox WHERE event_id = :e", e=ids[0])
            assert len(ids) <= attempts, (message, ids, attempts)


@pytest.mark.process_server("kill -9: only a process can be killed mid-write")
@pytest.mark.timeout(180)
async def test_queued_after_callbacks_survive_restart_and_kill9(make_server: Any) -> None:
    server: Server = make_server(**FAST)
    app = server.create_app()
    app_server = AppServer().start()
    configure(server, app, app_server.url)
    app_server.stop()  # down: everything queues

    # 1. A clean restart with rows queued.
    alice = await Conn.login(server, app, "alice")
    acks = [(await alice.send_text("c2c_bob", f"queued {i}", f"q-{i}"))["data"] for i in range(5)]
    await alice.close()
    assert pending(server, app) == 5
    server.stop()
    app_server.start()
    server.start()
    got = await seqs_delivered(app_server, {("alice", a["seq"]) for a in acks})
    assert set(got) == {("alice", a["seq"]) for a in acks}
    await assert_one_event_each(server, got)

    # 2. kill -9 in the middle of a stream of sends, the app server down.
    app_server.stop()
    senders = [Sender(await Conn.login(server, app, "carol"), "carol", "dave"),
               Sender(await Conn.login(server, app, "dave"), "dave", "carol")]
    running = [asyncio.create_task(s.run()) for s in senders]
    # Killed once both are well into their streams (not after a fixed time:
    # a fast machine needs a fraction of a second, a loaded one more).
    deadline = asyncio.get_running_loop().time() + 60
    while any(len(s.acks) < 10 for s in senders):
        assert asyncio.get_running_loop().time() < deadline, [len(s.acks) for s in senders]
        await asyncio.sleep(0.02)
    server.kill9()
    await asyncio.wait_for(asyncio.gather(*running), 30)
    acked = {(s.user, a["seq"]) for s in senders for a in s.acks.values()}
    assert len(acked) >= 20

    app_server.start()
    server.start()
    rows = stored(server, app, "carol", "dave")
    in_db = {(m["sender"], m["seq"]) for m in rows}
    assert acked <= in_db  # acked messages survived
    got = await seqs_delivered(app_server, in_db | {("alice", a["seq"]) for a in acks})
    carol_dave = {k: n for k, n in got.items() if k[0] in ("carol", "dave")}
    # Exactly the stored messages, one event each: no event for a message
    # that was not committed, none lost for one that was.
    assert set(carol_dave) == in_db
    await assert_one_event_each(server, carol_dave)
    assert pending(server, app) == 0
    app_server.stop()
