"""Links over the WebSocket protocol and the SDK: a home device links, sends
as its linked identity (the app's callbacks see an ordinary message of the
app and nothing of the home account), and an SDK client takes relayed
frames without resyncing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from TLSSigAPIv2 import TLSSigAPIv2

from tests import media_files
from tests.app_server import AppServer, Reply
from tests.gateway.test_media import code, ok
from tests.support import App, Conn, Server
from tidings.domain import link_tickets
from tidings.sdk import Client, sign_link_ticket

Users = Callable[[str], str]
FAST_CALLBACKS = {"callback_retry_base": "0.2", "callback_retry_cap": "0.5",
                  "callback_poll_interval": "0.1"}


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    s = AppServer().start()
    s.answer(lambda call: Reply(body={"ok": True}))
    yield s
    s.stop()


def ticket(app: App, user: str) -> str:
    return str(TLSSigAPIv2(app.sdkappid, app.secret_key).gen_sig_with_userbuf(
        user, 300, link_tickets.LINK_PURPOSE))


def walk(doc: Any) -> Iterator[str]:
    """Every string (keys and values) in a JSON document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield str(k)
            yield from walk(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from walk(v)
    else:
        yield str(doc)


async def test_link_and_answer_over_the_socket_callbacks_learn_nothing_of_home(
        make_server: Callable[..., Server], app_server: AppServer, users: Users) -> None:
    server = make_server(**FAST_CALLBACKS)
    shop, home = server.create_app("ShopX"), server.home_app()
    with server.http(shop, shop.admin) as admin:
        assert admin.put("/v1/admin/callbacks", json={
            "url": app_server.url, "events": {"before_send": True, "after_send": True}}
        ).status_code == 200
    bob, carol, h_carol = users("bob"), users("carol"), "h-carol-secret-name"
    bob_shop = await Conn.login(server, shop, bob)
    carol_home = await Conn.login(server, home, h_carol)
    try:
        body = {"sdkappid": shop.sdkappid, "ticket": ticket(shop, carol), "to": bob}
        seen = await carol_home.request("link_preview", body)
        assert seen["ok"] and seen["data"]["user"]["user_id"] == carol
        made = await carol_home.request("link_confirm", body)
        assert made["ok"], made
        qualified = made["data"]["action"]["conversation_id"]
        added = await carol_home.event("link_added")
        assert added["user"]["user_id"] == carol and added["app"]["name"] == "ShopX"
        assert qualified == f"app:{shop.sdkappid}:c2c_{bob}"
        again = await carol_home.request("link_confirm", body)
        assert not again["ok"] and again["error"]["code"] == 96054
        listed = await carol_home.request("links", {})
        assert [x["user"]["user_id"] for x in listed["data"]["links"]] == [carol]

        ack = await carol_home.request("link_send", {
            "conversation_id": qualified, "client_msg_id": uuid.uuid4().hex,
            "elements": [{"type": "text", "text": "hi from the messenger"}]})
        assert ack["ok"] and ack["data"]["conversation_id"] == qualified, ack
        got = await bob_shop.event("message")
        assert got["sender"] == carol and got["conversation_id"] == f"c2c_{carol}"

        # A plain conversation id, a link in another app, a bad qualified id.
        for bad, code in ((f"c2c_{bob}", 10009), (f"app:1:c2c_{bob}", 96056),
                          (f"app:x:c2c_{bob}", 10009), (f"app:{shop.sdkappid}:nope", 10009)):
            reply = await carol_home.request("link_send", {
                "conversation_id": bad, "client_msg_id": uuid.uuid4().hex,
                "elements": [{"type": "text", "text": "x"}]})
            assert not reply["ok"] and reply["error"]["code"] == code, (bad, reply)
        # An app's own user has no links.
        reply = await bob_shop.request("links", {})
        assert not reply["ok"] and reply["error"]["code"] == 96058

        before = await app_server.wait_for("before_send", where=lambda c: c.data.get(
            "from") == carol or c.data.get("sender") == carol)
        after = await app_server.wait_for("after_send", where=lambda c: "hi from the messenger"
                                          in c.body.decode())
        for call in (*before, *after):
            strings = list(walk(call.doc))
            assert not any(h_carol in s for s in strings), call.doc
            assert not any(str(home.sdkappid) == s for s in strings), call.doc
        assert after[0].data.get("platform") == "Tidings"

        history = await carol_home.request("link_history", {"conversation_id": qualified})
        assert [m["sender_card"]["user_id"] for m in history["data"]["messages"]] == [carol]
        read = await carol_home.request("link_read", {"conversation_id": qualified})
        assert read["ok"] and read["data"]["conversation_id"] == qualified
        groups = await carol_home.request("link_conversations", {"sdkappid": shop.sdkappid})
        assert groups["data"]["apps"][0]["app"]["name"] == "ShopX"
        [listed] = groups["data"]["apps"][0]["conversations"]
        assert listed["conversation_id"] == qualified
        assert listed["last_message"]["conversation_id"] == qualified  # qualified once
        gone = await carol_home.request("unlink", {"sdkappid": shop.sdkappid})
        assert gone["ok"] and gone["data"]["unlinked"] is True
    finally:
        await bob_shop.close()
        await carol_home.close()


async def test_sdk_home_client_links_and_receives_relayed_messages(
        server: Server, users: Users) -> None:
    shop, home = server.create_app("ShopX"), server.home_app()
    bob, carol, h_carol = users("bob"), users("carol"), users("h-carol")
    messenger = Client(server.ws_url, home.sdkappid, h_carol, home.sig(h_carol))
    embedded = Client(server.ws_url, shop.sdkappid, bob, shop.sig(bob))
    async with messenger, embedded:
        t = sign_link_ticket(shop.sdkappid, shop.secret_key, carol)
        assert (await messenger.preview_link(shop.sdkappid, t, to=bob))["linked"] is False
        made = await messenger.link(shop.sdkappid, t, to=bob)
        qualified = made["action"]["conversation_id"]
        # Several messages: live frames of a linked conversation arrive with
        # no baseline from sync, and the client takes them without resyncing.
        for n in range(3):
            await embedded.send_text(f"c2c_{carol}", f"m{n}")
        got = [await asyncio.wait_for(messenger.next_message(), 5) for _ in range(3)]
        assert [m.text for m in got] == ["m0", "m1", "m2"]
        assert {m.conversation_id for m in got} == {qualified}
        ack = await messenger.send_linked_text(qualified, "answer")
        assert ack["conversation_id"] == qualified
        reply = await asyncio.wait_for(embedded.next_message(), 5)
        assert reply.sender == carol and reply.text == "answer"
        around = await messenger.linked_history(qualified, around_seq=2, limit=1)
        assert [m["seq"] for m in around["messages"]] == [2]
        assert (around["more"], around["newer"]) == (True, True)
        caught = await messenger.linked_sync(shop.sdkappid)
        assert [m["elements"][0]["text"] for m in caught["messages"]] == [
            "m0", "m1", "m2", "answer"]
        assert [g["as"]["user_id"] for g in await messenger.linked_conversations()] == [carol]
        assert [x["app"]["sdkappid"] for x in await messenger.links()] == [shop.sdkappid]
        await messenger.unlink(shop.sdkappid)
        assert await messenger.links() == []


async def test_a_linked_identity_reads_the_media_of_its_conversations_only(
        server: Server, users: Users) -> None:
    """``link_media_url``: a home account gets download URLs of the uploads
    its linked identity may read (its conversations'), as the app's own
    rule says; not other conversations' uploads, not without a link.
    ``link_history`` pages around a message as ``history`` does."""
    shop, home = server.create_app("ShopM"), server.home_app()
    bob, carol, dave, h_carol = users("bob"), users("carol"), users("dave"), users("h-carol")
    with server.http(shop, bob) as http:
        shown = http.post("/v1/media", content=media_files.png()).json()
        other = http.post("/v1/media", content=media_files.png(5, 5)).json()
    b = await Conn.login(server, shop, bob)
    carol_home = await Conn.login(server, home, h_carol)
    try:
        await ok(carol_home, "link_confirm", {"sdkappid": shop.sdkappid,
                                              "ticket": ticket(shop, carol), "to": bob})
        for n, (peer, doc) in enumerate(((carol, shown), (dave, other))):
            await ok(b, "send", {"conversation_id": f"c2c_{peer}", "client_msg_id": f"m{n}",
                                 "elements": [doc["element"]]})
        for n in range(3):
            await ok(b, "send", {"conversation_id": f"c2c_{carol}", "client_msg_id": f"t{n}",
                                 "elements": [{"type": "text", "text": f"t{n}"}]})
        asked = {"sdkappid": shop.sdkappid, "media_id": shown["media_id"], "variant": "thumb"}
        got = await ok(carol_home, "link_media_url", asked)
        assert (got["media_id"], got["variant"]) == (shown["media_id"], "thumb")
        thumb = await asyncio.to_thread(httpx.get, server.base_url + got["url"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
        # Bob's upload to Dave: not in a conversation of Carol's.
        assert await code(carol_home, "link_media_url", {
            "sdkappid": shop.sdkappid, "media_id": other["media_id"]}) == 95009
        # The home identity itself, another app, bad input.
        assert await code(carol_home, "media_url", {"media_id": shown["media_id"]}) == 95003
        assert await code(carol_home, "link_media_url", {**asked, "sdkappid": 1}) == 96056
        assert await code(carol_home, "link_media_url", {**asked, "variant": "huge"}) == 10002
        assert await code(carol_home, "link_media_url", {"media_id": shown["media_id"]}) == 10002
        assert await code(b, "link_media_url", asked) in (96056, 96058)

        page = await ok(carol_home, "link_history", {
            "conversation_id": f"app:{shop.sdkappid}:c2c_{bob}", "around_seq": 2, "limit": 3})
        assert [m["seq"] for m in page["messages"]] == [1, 2, 3]
        assert (page["more"], page["newer"]) == (False, True)
        assert page["messages"][0]["elements"][0]["media_id"] == shown["media_id"]
        assert page["messages"][0]["conversation_id"] == f"app:{shop.sdkappid}:c2c_{bob}"
    finally:
        await b.close()
        await carol_home.close()
