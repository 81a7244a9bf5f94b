"""A change made with the CLI (another process, the same database) is in
effect on a running server for the very first request that starts more than
TIDINGS_APP_CACHE_TTL after it: the server caches an app's settings, and an
entry older than that is read again before it is used, never after. Shown
for the callbacks (a before-send callback switched on, then off), the
one-to-one friendship rule (on, then off) and the group default members."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.app_server import AppServer, Reply
from tests.conftest import BACKENDS, database_url
from tests.pg import Cluster
from tests.support import App, Conn, ProcessServer, Server, error_of

TTL = 1.0
# Past the cache's time to live, with room for the clocks of two processes.
PAST_TTL = TTL + 0.3

Users = Callable[[str], str]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, pg_cluster: Cluster | None,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A `tidings serve` process: the subject is what one process (the test's,
    # running the CLI's code) changes reaching the caches of another.
    s = ProcessServer(tmp_path_factory.mktemp("server"),
                      database_url(str(request.param), pg_cluster),
                      {"TIDINGS_APP_CACHE_TTL": str(TTL)})
    s.start()
    yield s
    s.stop()


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    s = AppServer().start()
    yield s
    s.stop()


def imported(server: Server, app: App, *user_ids: str) -> None:
    with server.http(app, app.admin) as http:
        reply = http.post("/v1/admin/accounts/import",
                          json={"accounts": [{"user_id": u} for u in user_ids]})
    assert reply.status_code == 200, reply.text


def update(server: Server, app: App, *args: str) -> None:
    """``tidings app update``, run in the test process: a process other than
    the server's, over the same database, as an operator's command is."""
    server.cli("app", "update", str(app.sdkappid), *args)


async def send(conn: Conn, peer: str, text: str) -> dict[str, Any]:
    return await conn.send_text(f"c2c_{peer}", text, uuid.uuid4().hex)


async def test_a_before_send_callback_switched_on_judges_the_next_message(
        server: Server, users: Users, app_server: AppServer) -> None:
    app = server.create_app("Moderated")
    alice, bob = users("alice"), users("bob")
    app_server.answer(lambda call: Reply(body={"action": "reject", "code": 4001,
                                               "message": "moderated"}))
    phone = await Conn.login(server, app, alice)
    # The server reads the app's callback settings (none yet) and keeps them.
    assert (await send(phone, bob, "before"))["ok"]
    assert (await send(phone, bob, "before again"))["ok"]

    update(server, app, "--callback-url", app_server.url, "--callback-timeout", "5000")
    await asyncio.sleep(PAST_TTL)
    refused = await send(phone, bob, "the very next one")
    assert not refused["ok"] and refused["error"]["code"] == 20006, refused
    [asked] = app_server.of("before_send")
    assert asked.data["elements"][0]["text"] == "the very next one"

    # And off again: the next message goes out without asking.
    update(server, app, "--callback-disable", "before_send")
    await asyncio.sleep(PAST_TTL)
    assert (await send(phone, bob, "unmoderated"))["ok"]
    assert len(app_server.of("before_send")) == 1
    await phone.close()


async def test_the_friendship_rule_applies_to_the_next_message(
        server: Server, users: Users) -> None:
    app = server.create_app("Friends only")
    alice, bob = users("alice"), users("bob")
    imported(server, app, alice, bob)
    phone = await Conn.login(server, app, alice)
    # Read once (rules and both users' lists), then from memory.
    assert (await send(phone, bob, "hello"))["ok"]
    assert (await send(phone, bob, "hello again"))["ok"]

    update(server, app, "--c2c-needs-friendship")
    await asyncio.sleep(PAST_TTL)
    refused = await send(phone, bob, "the very next one")
    assert not refused["ok"] and refused["error"]["code"] == 20009, refused
    with server.http(app, alice) as http:
        reply = http.post("/v1/messages", json={
            "conversation_id": f"c2c_{bob}", "client_msg_id": uuid.uuid4().hex,
            "elements": [{"type": "text", "text": "over REST"}]})
    assert error_of(reply) == (403, 20009)

    update(server, app, "--no-c2c-needs-friendship")
    await asyncio.sleep(PAST_TTL)
    assert (await send(phone, bob, "strangers may talk again"))["ok"]
    await phone.close()


def test_group_default_members_join_the_next_group(server: Server, users: Users) -> None:
    app = server.create_app("Defaults")
    alice, guest = users("alice"), users("guest")
    with server.http(app, alice) as http:
        def new_group() -> dict[str, Any]:
            reply = http.post("/v1/groups", json={"type": "Work"})
            assert reply.status_code == 200, reply.text
            return reply.json()  # type: ignore[no-any-return]

        # The server reads the app's default members (none) and keeps them.
        assert new_group()["member_count"] == 1

        update(server, app, "--group-default-member", guest)
        time.sleep(PAST_TTL)
        made = new_group()
        assert made["member_count"] == 2, made
        with server.http(app, app.admin) as admin:
            members = admin.get(f"/v1/admin/groups/{made['group_id'].replace('#', '%23')}"
                                "/members").json()["members"]
        assert {m["user_id"] for m in members} == {alice, guest}

        update(server, app, "--no-group-default-members")
        time.sleep(PAST_TTL)
        assert new_group()["member_count"] == 1
