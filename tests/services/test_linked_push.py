"""Push for a linked identity (issue 5): its person may be in the app or in
the messenger. Whoever of the two is connected in the foreground got the
message live, so nobody pushes; the messenger's push devices get the app's
messages, titled with the app's name; the app's ``offline_push`` callback
fires only for a receiver offline everywhere that Tidings cannot reach
itself; a read in the app or an unlink drops a push still queued."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from TLSSigAPIv2 import TLSSigAPIv2

from tests.app_server import AppServer, Reply
from tests.conftest import BACKENDS, database_url
from tests.pg import Cluster
from tests.push_support import FAST, Browser, calls_to, login, ok, wait_calls
from tests.support import App, Conn, InProcessServer, Server
from tidings.domain import link_tickets

Users = Callable[[str], str]


@pytest.fixture(scope="module", params=BACKENDS)
def fast_server(request: pytest.FixtureRequest, pg_cluster: Cluster | None,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that retries callbacks quickly, and a failed push after
    about 2 s (time for a read or an unlink to come first); tests keep apart
    by app and user ids."""
    s = InProcessServer(tmp_path_factory.mktemp("server"),
                        database_url(str(request.param), pg_cluster),
                        {**FAST, "TIDINGS_PUSH_RETRY_BASE": "2", "TIDINGS_PUSH_RETRY_CAP": "4"})
    s.start()
    yield s
    s.stop()


@pytest.fixture
def services() -> Iterator[AppServer]:
    """The push services (Web Push endpoints)."""
    s = AppServer().start()
    s.answer(lambda call: Reply(201, b""))
    yield s
    s.stop()


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    """The app's own server, which takes the callbacks."""
    s = AppServer().start()
    s.answer(lambda call: Reply(body={"ok": True}))
    yield s
    s.stop()


async def link(home_conn: Conn, app: App, user: str) -> None:
    ticket = str(TLSSigAPIv2(app.sdkappid, app.secret_key).gen_sig_with_userbuf(
        user, 300, link_tickets.LINK_PURPOSE))
    await ok(home_conn, "link_confirm", {"sdkappid": app.sdkappid, "ticket": ticket})


def shop_with_callbacks(server: Server, app_server: AppServer) -> App:
    shop = server.create_app("ShopX")
    with server.http(shop, shop.admin) as admin:
        assert admin.put("/v1/admin/callbacks", json={"url": app_server.url}).status_code == 200
        assert admin.put("/v1/admin/push", json={"use_callback": True}).status_code == 200
    return shop


def offline_pushes_for(app_server: AppServer, user: str) -> list[dict[str, Any]]:
    return [c.data for c in app_server.of("offline_push")
            if user in [r["user_id"] for r in c.data["receivers"]]]


async def test_the_app_hears_of_a_receiver_only_when_offline_everywhere(
        fast_server: Server, app_server: AppServer, users: Users) -> None:
    server = fast_server
    shop, home = shop_with_callbacks(server, app_server), server.home_app()
    bob, carol, h_carol = users("bob"), users("carol"), users("h-carol")
    b = await login(server, shop, bob)
    messenger = await login(server, home, h_carol)
    await link(messenger, shop, carol)

    # Carol is in the messenger (not in the app): she got it there, so the
    # app is not asked to reach her.
    await b.send_text(f"c2c_{carol}", "in the messenger")
    assert (await messenger.event("message"))["conversation_id"] == (
        f"app:{shop.sdkappid}:c2c_{bob}")
    await asyncio.sleep(1.0)
    assert offline_pushes_for(app_server, carol) == []

    # The messenger goes to the background (connected, no push device):
    # nobody of ours can show it, so the app's server is asked.
    await ok(messenger, "app_state", {"state": "background"})
    await b.send_text(f"c2c_{carol}", "in the background")
    [event] = await wait_for_offline_push(app_server, carol)
    assert event["text"] == f"{bob}: in the background"
    assert event["receivers"] == [{"user_id": carol, "conversation_id": f"c2c_{bob}",
                                   "badge": 2}]

    # Offline everywhere: asked again; the message waits for her in sync.
    await messenger.close()
    await b.send_text(f"c2c_{carol}", "offline everywhere")
    await wait_for_offline_push(app_server, carol, 2)
    back = await login(server, home, h_carol)
    caught = await ok(back, "link_sync", {"sdkappid": shop.sdkappid})
    assert [m["elements"][0]["text"] for m in caught["messages"]][-1] == "offline everywhere"
    # Nothing of the home account reaches the app's server.
    for call in app_server.of("offline_push"):
        assert h_carol not in call.body.decode()
    await back.close()
    await b.close()


async def wait_for_offline_push(app_server: AppServer, user: str,
                                count: int = 1) -> list[dict[str, Any]]:
    await app_server.wait_for("offline_push", count, where=lambda c: user in [
        r["user_id"] for r in c.data["receivers"]])
    return offline_pushes_for(app_server, user)


async def test_the_messengers_push_device_gets_the_apps_messages(
        fast_server: Server, services: AppServer, app_server: AppServer,
        users: Users) -> None:
    server = fast_server
    shop, home = shop_with_callbacks(server, app_server), server.home_app()
    bob, carol, h_carol, h_dan = users("bob"), users("carol"), users("h-carol"), users("h-dan")
    browser = Browser.new(services)
    messenger = await login(server, home, h_carol)
    await link(messenger, shop, carol)
    await ok(messenger, "push_register", {"channel": "webpush",
                                          "subscription": browser.subscription()})
    await messenger.close()
    # One unread message in the messenger's own conversations (pushed as
    # usual), for the badge.
    dan = await login(server, home, h_dan)
    await dan.send_text(f"c2c_{h_carol}", "home unread")
    [own] = await wait_calls(services, browser.path)
    assert browser.read(own)["body"] == f"{h_dan}: home unread"
    before = 1

    b = await login(server, shop, bob)
    ack = await b.send_text(f"c2c_{carol}", "is it still for sale?")
    calls = await wait_calls(services, browser.path, before + 1)
    note = browser.read(calls[-1])
    assert note["title"] == "ShopX"
    assert note["body"] == f"{bob}: is it still for sale?"
    assert note["conversation_id"] == f"app:{shop.sdkappid}:c2c_{bob}"
    assert note["msg_id"] == ack["data"]["msg_id"]
    assert note["badge"] == 2  # the app conversation's one and the messenger's one
    # The messenger reached her: the app's server is not asked.
    await asyncio.sleep(1.0)
    assert offline_pushes_for(app_server, carol) == []

    # Unlinked: nothing more goes to the messenger; the app is asked again.
    back = await login(server, home, h_carol)
    await ok(back, "unlink", {"sdkappid": shop.sdkappid})
    await back.close()
    await b.send_text(f"c2c_{carol}", "hello?")
    await wait_for_offline_push(app_server, carol)
    assert len(calls_to(services, browser.path)) == before + 1
    await b.close()
    await dan.close()


@pytest.mark.parametrize("change", ["read_in_the_app", "unlink"])
async def test_a_queued_push_to_the_messenger_is_dropped(
        fast_server: Server, services: AppServer, users: Users,
        change: str) -> None:
    # The first attempt fails and the retry comes ~2 s later: the read in
    # the app (or the unlink) comes first.
    server = fast_server
    shop, home = server.create_app("ShopX"), server.home_app()
    bob, carol, h_carol = users("bob"), users("carol"), users("h-carol")
    browser = Browser.new(services)
    messenger = await login(server, home, h_carol)
    await link(messenger, shop, carol)
    await ok(messenger, "push_register", {"channel": "webpush",
                                          "subscription": browser.subscription()})
    await messenger.close()
    services.answer(lambda call: Reply(503, b""))
    b = await login(server, shop, bob)
    await b.send_text(f"c2c_{carol}", "oops")
    await wait_calls(services, browser.path)
    if change == "read_in_the_app":
        with server.http(shop, carol) as http:
            assert http.post(f"/v1/conversations/c2c_{bob}/read", json={}).status_code == 200
    else:
        with server.http(shop, shop.admin) as admin:
            assert admin.delete(f"/v1/admin/links/{carol}").status_code == 200
    services.answer(lambda call: Reply(201, b""))
    with server.http(home, home.admin) as admin:
        for _ in range(100):
            if admin.get(f"/v1/admin/push/users/{h_carol}").json()["queued"] == []:
                break
            await asyncio.sleep(0.1)
        assert admin.get(f"/v1/admin/push/users/{h_carol}").json()["queued"] == []
    assert len(calls_to(services, browser.path)) == 1
    await b.close()
