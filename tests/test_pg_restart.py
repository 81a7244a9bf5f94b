"""PostgreSQL restarted under a running server (issue 19: the pool has no
pre-ping, so a dead connection is found by the statement that meets it).

A request that meets a dead connection may fail, with a clear error that
says to retry; the next succeed, and no acked message is lost or stored
twice. Restarting the session's cluster is safe here: tests of a worker run
one after the other, and the servers of other modules are stopped by then."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import new_server
from tests.pg import Cluster
from tests.support import Conn, Server

# A request may meet a dead connection once per pool (the writer's, the
# reads'); more tries than that mean the server did not recover.
TRIES = 4


@pytest.fixture
def pg_server(pg_cluster: Cluster | None, tmp_path: Path) -> Iterator[tuple[Server, Cluster]]:
    if pg_cluster is None:
        pytest.skip("PostgreSQL binaries are not installed (scripts/test installs them)")
    server = new_server(tmp_path / "server", pg_cluster.new_database())
    server.start()
    try:
        yield server, pg_cluster
    finally:
        server.stop()


async def _until_ok(conn: Conn, op: str, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The request's reply once it succeeds, and how many failed before.
    A failure must be one a client can act on: a retry error, no 500."""
    failed = 0
    while True:
        reply = await conn.request(op, data)
        if reply["ok"]:
            return reply, failed
        failed += 1
        error = reply["error"]
        assert error["code"] != 500 and error["message"], reply
        assert "Traceback" not in error["message"], reply
        assert failed < TRIES, reply


def _send(n: int) -> dict[str, Any]:
    return {"conversation_id": "c2c_bob", "client_msg_id": f"m-{n}",
            "elements": [{"type": "text", "text": f"message {n}"}]}


async def test_a_restart_loses_no_acked_message_and_requests_recover(
        pg_server: tuple[Server, Cluster]) -> None:
    server, cluster = pg_server
    app = server.create_app()
    alice = await Conn.login(server, app, "alice")
    acked: dict[int, int] = {}
    for n in range(1, 6):
        reply = await alice.request("send", _send(n))
        assert reply["ok"], reply
        acked[n] = reply["data"]["seq"]

    cluster.restart()

    # Each send retried with its client id until acked: each stored once.
    failures = 0
    for n in range(6, 12):
        reply, failed = await _until_ok(alice, "send", _send(n))
        failures += failed
        assert not reply["data"]["duplicate"] or failed, reply
        acked[n] = reply["data"]["seq"]
    # Past the first requests every pool holds live connections again.
    reply = await alice.request("send", _send(12))
    assert reply["ok"], reply
    acked[12] = reply["data"]["seq"]
    # The pool is replaced when a dead connection is found (the writer's
    # raw statements included: store/write_connection.py), so a send fails
    # at most once through a read and once through the writer; before, the
    # writer met the pool's stale connections one batch at a time.
    assert failures <= 2, failures

    # A login and its first sync (the hot paths' reads) work, and see every
    # acked message once, at its acked seq.
    bob = await Conn.login(server, app, "bob", sync=False)
    synced, _ = await _until_ok(bob, "sync", {"known": {}, "limit": 100})
    assert synced["data"]
    with server.http(app, "bob") as http:
        page = http.get("/v1/conversations/c2c_alice/messages", params={"limit": 100}).json()
    stored = {m["client_msg_id"]: m["seq"] for m in page["messages"]}
    assert stored == {f"m-{n}": seq for n, seq in acked.items()}
    assert sorted(acked.values()) == list(range(1, 13))
    await alice.close()
    await bob.close()

    # Restarted again under a logged-in session, so that the reads'
    # connections are the first to meet it: the first sync (one select on
    # asyncpg itself: store/first_sync.py) fails with a retry error at
    # most, then answers as before.
    again = await Conn.login(server, app, "alice", sync=False)
    cluster.restart()
    synced, _ = await _until_ok(again, "sync", {"known": {}, "limit": 0})
    [conversation] = synced["data"]["conversations"]
    assert conversation["last_seq"] == 12, conversation
    await again.close()
