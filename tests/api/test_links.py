"""Links between home accounts and app identities, end to end over REST and
the WebSocket protocol, with two apps (ShopX, TravelY) and three people:

- Bob uses ShopX embedded (its own client) and TravelY through the
  messenger (his home account links his TravelY identity);
- Carol links her ShopX identity to her home account and answers from there;
- Dave uses TravelY embedded.

Every bad ticket and bad request has its stable code and changes nothing.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from TLSSigAPIv2 import TLSSigAPIv2

from tests.home_support import register
from tests.support import App, Conn, Server, error_of
from tidings.domain import link_tickets

Users = Callable[[str], str]
PURPOSE = link_tickets.LINK_PURPOSE


@pytest.fixture(scope="module")
def shop(shared_server: Server) -> App:
    return shared_server.create_app("ShopX")


@pytest.fixture(scope="module")
def travel(shared_server: Server) -> App:
    return shared_server.create_app("TravelY")


@pytest.fixture(scope="module")
def home(shared_server: Server) -> App:
    return shared_server.home_app()


_lifetimes = itertools.cycle(range(300, 200, -1))


def ticket(app: App, user: str, expire: int | None = None) -> str:
    """As an app's server makes one, with Tencent's library. Two tickets for
    one user signed in the same second with the same lifetime are the same
    ticket (the MAC covers nothing else): the lifetimes differ here."""
    if expire is None:
        expire = next(_lifetimes)
    return str(TLSSigAPIv2(app.sdkappid, app.secret_key).gen_sig_with_userbuf(
        user, expire, PURPOSE))


def imported(server: Server, app: App, *people: tuple[str, str]) -> None:
    with server.http(app, app.admin) as http:
        reply = http.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": u, "nickname": n, "avatar_url": f"https://img.example/{u}.png"}
            for u, n in people]})
    assert reply.status_code == 200, reply.text


@pytest.fixture
def person(server: Server, home: App) -> Iterator[Callable[[str], httpx.Client]]:
    """A signed-in home account's REST client (stands for the sign-in flow)."""
    opened: list[httpx.Client] = []

    def make(home_user: str) -> httpx.Client:
        client = server.http(home, home_user)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


def link(http: httpx.Client, app: App, user: str, **extra: Any) -> dict[str, Any]:
    reply = http.post("/v1/links", json={"sdkappid": app.sdkappid,
                                         "ticket": ticket(app, user), **extra})
    assert reply.status_code == 200, reply.text
    made: dict[str, Any] = reply.json()
    return made


def text_of(msg: dict[str, Any]) -> str:
    return str(msg["elements"][0]["text"])


async def test_preview_confirm_list_and_unlink(server: Server, shop: App, travel: App,
                                               person: Callable[[str], httpx.Client],
                                               users: Users) -> None:
    carol, bob = users("carol"), users("bob")
    imported(server, shop, (carol, "Carol"), (bob, "Bob the seller"))
    me = person(users("h-carol"))
    t = ticket(shop, carol)
    body = {"sdkappid": shop.sdkappid, "ticket": t, "to": bob}
    seen = me.post("/v1/links/preview", json=body)
    assert seen.status_code == 200, seen.text
    got = seen.json()
    assert got["app"] == {"sdkappid": shop.sdkappid, "name": "ShopX", "icon_url": ""}
    assert got["user"] == {"user_id": carol, "nickname": "Carol",
                           "avatar_url": f"https://img.example/{carol}.png"}
    assert got["target"]["nickname"] == "Bob the seller"
    assert (got["action"], got["linked"], got["replaces"]) == ("chat", False, None)
    # A preview changes nothing: no link yet, and the ticket is still good.
    assert me.get("/v1/links").json() == {"links": []}

    made = me.post("/v1/links", json=body)
    assert made.status_code == 200, made.text
    assert made.json()["action"] == {"action": "chat",
                                     "conversation_id": f"app:{shop.sdkappid}:c2c_{bob}"}
    assert made.json()["link"]["user"]["user_id"] == carol
    # Single use: the same ticket again, to preview or to confirm.
    assert error_of(me.post("/v1/links/preview", json=body)) == (409, 96054)
    assert error_of(me.post("/v1/links", json=body)) == (409, 96054)

    # Many apps per home account.
    link(me, travel, users("carol-t"))
    listed = me.get("/v1/links").json()["links"]
    assert [x["app"]["name"] for x in listed] == ["ShopX", "TravelY"]
    only = me.get("/v1/links", params={"sdkappid": travel.sdkappid}).json()["links"]
    assert [x["app"]["name"] for x in only] == ["TravelY"]

    gone = me.delete(f"/v1/links/{travel.sdkappid}")
    assert gone.json() == {"sdkappid": travel.sdkappid, "user_id": users("carol-t"),
                           "unlinked": True}
    assert error_of(me.delete(f"/v1/links/{travel.sdkappid}")) == (404, 96056)
    assert [x["app"]["name"] for x in me.get("/v1/links").json()["links"]] == ["ShopX"]


async def test_bad_tickets_are_refused_with_their_codes(
        server: Server, shop: App, travel: App, home: App,
        person: Callable[[str], httpx.Client], users: Users) -> None:
    carol = users("carol")
    me = person(users("h-carol"))

    def refused(t: str, sdkappid: int = shop.sdkappid, **extra: Any) -> tuple[int, int]:
        body = {"sdkappid": sdkappid, "ticket": t, **extra}
        first = error_of(me.post("/v1/links/preview", json=body))
        assert error_of(me.post("/v1/links", json=body)) == first
        return first

    now = int(time.time())
    assert refused(link_tickets.sign_link_ticket(shop.sdkappid, shop.secret_key, carol, 60,
                                                 now=now - 120)) == (410, 96051)
    assert refused(link_tickets.sign_link_ticket(shop.sdkappid, "f" * 64, carol)) == (403, 96052)
    assert refused(ticket(travel, carol)) == (400, 96053)  # another app's ticket
    assert refused(shop.sig(carol)) == (400, 96050)  # a UserSig: wrong purpose
    assert refused(ticket(shop, carol, expire=3600)) == (400, 96050)  # lives too long
    assert refused("garbage") == (400, 96050)
    assert refused(ticket(home, carol), home.sdkappid) == (400, 96050)  # home to home
    assert refused(ticket(shop, carol), to=users("nobody")) == (404, 96057)
    assert refused(ticket(shop, carol), to=carol) == (400, 10002)
    assert refused(ticket(shop, carol), action="chat") == (400, 10002)  # action without to
    no_app = link_tickets.sign_link_ticket(99, "f" * 64, carol)
    assert refused(no_app, 99) == (401, 70020)  # no such app
    bad_bodies: list[Any] = [{"sdkappid": "x", "ticket": "t"}, {"ticket": "t"}, [],
                             {"sdkappid": shop.sdkappid, "ticket": "t", "action": "hug"},
                             {"sdkappid": shop.sdkappid, "ticket": "t", "extra": 1}]
    for bad in bad_bodies:
        assert error_of(me.post("/v1/links", json=bad))[1] == 10002
    assert error_of(me.post("/v1/links", content=b"{nope",
                            headers={"Content-Type": "application/json"}))[1] in (90001, 10002)
    # Nothing above linked anything or used the good ticket.
    assert me.get("/v1/links").json() == {"links": []}
    good = ticket(shop, carol)
    assert me.post("/v1/links", json={"sdkappid": shop.sdkappid, "ticket": good}
                   ).status_code == 200


async def test_who_may_link_and_the_ticket_is_no_usersig(
        server: Server, shop: App, home: App, person: Callable[[str], httpx.Client],
        users: Users) -> None:
    carol = users("carol")
    t = ticket(shop, carol)
    # An app's user (not a home account) may not link.
    with server.http(shop, users("x")) as app_user:
        assert error_of(app_user.post("/v1/links", json={
            "sdkappid": shop.sdkappid, "ticket": t})) == (403, 96058)
        assert error_of(app_user.get("/v1/links")) == (403, 96058)
    # Without sign-in.
    with server.http() as anon:
        assert error_of(anon.post("/v1/links", json={
            "sdkappid": shop.sdkappid, "ticket": t})) == (401, 70002)
    # A link ticket never logs in, over REST or the socket.
    with server.http() as as_ticket:
        as_ticket.headers["Authorization"] = f"Bearer {t}"
        assert error_of(as_ticket.get("/v1/conversations")) == (401, 70003)
    conn = await Conn.open(server)
    try:
        reply = await conn.request("login", {"sdkappid": shop.sdkappid, "user_id": carol,
                                             "usersig": t})
        assert not reply["ok"] and reply["error"]["code"] == 70003
    finally:
        await conn.close()
    # The ticket was not used by any of that.
    made = person(users("h")).post("/v1/links", json={"sdkappid": shop.sdkappid, "ticket": t})
    assert made.status_code == 200, made.text


async def test_an_identity_links_to_one_home_account(
        server: Server, shop: App, person: Callable[[str], httpx.Client],
        users: Users) -> None:
    carol, carol2 = users("carol"), users("carol2")
    first, second = person(users("h1")), person(users("h2"))
    link(first, shop, carol)
    t = ticket(shop, carol)
    assert error_of(second.post("/v1/links/preview", json={
        "sdkappid": shop.sdkappid, "ticket": t})) == (409, 96055)
    assert error_of(second.post("/v1/links", json={
        "sdkappid": shop.sdkappid, "ticket": t})) == (409, 96055)
    # The refusal did not use the ticket: once unlinked there, it links here.
    assert first.delete(f"/v1/links/{shop.sdkappid}").status_code == 200
    assert second.post("/v1/links", json={"sdkappid": shop.sdkappid, "ticket": t}
                       ).status_code == 200
    # Linking again from the same account is fine (a fresh ticket).
    again = link(second, shop, carol)
    assert again["link"]["replaced"] is None
    # One identity per app per home account: a second one replaces the first.
    preview = second.post("/v1/links/preview", json={
        "sdkappid": shop.sdkappid, "ticket": ticket(shop, carol2)}).json()
    assert preview["replaces"] == carol
    assert link(second, shop, carol2)["link"]["replaced"] == carol
    assert [x["user"]["user_id"] for x in second.get("/v1/links").json()["links"]] == [carol2]
    # The app's admin sees that its user is linked, and unlinks it.
    with server.http(shop, shop.admin) as admin:
        state = admin.get(f"/v1/admin/links/{carol2}").json()
        assert state["linked"] is True and set(state) == {"user_id", "linked", "since"}
        assert admin.get(f"/v1/admin/links/{carol}").json()["linked"] is False
        assert admin.delete(f"/v1/admin/links/{carol2}").json() == {"user_id": carol2,
                                                                   "unlinked": True}
        assert admin.delete(f"/v1/admin/links/{carol2}").json()["unlinked"] is False
    assert second.get("/v1/links").json() == {"links": []}


async def test_friend_action_sends_the_request_as_the_app_identity(
        server: Server, shop: App, person: Callable[[str], httpx.Client],
        users: Users) -> None:
    carol, bob = users("carol"), users("bob")
    imported(server, shop, (carol, "Carol"), (bob, "Bob"))
    made = link(person(users("h")), shop, carol, to=bob, action="friend")
    assert made["action"]["action"] == "friend"
    assert made["action"]["result"] in ("pending", "added")
    b = await Conn.login(server, shop, bob)
    try:
        incoming = b.last_sync["friend_requests"]
        assert [r["from"] for r in incoming] == [carol] or made["action"]["result"] == "added"
    finally:
        await b.close()

    # When the request cannot go (the identity blocks the target), the link
    # is still made, and the answer says why no request was sent.
    dan, erin = users("dan"), users("erin")
    imported(server, shop, (dan, "Dan"), (erin, "Erin"))
    with server.http(shop, dan) as as_dan:
        assert as_dan.post("/v1/blocks", json={"user_ids": [erin]}).status_code == 200
    me = person(users("h2"))
    made = link(me, shop, dan, to=erin, action="friend")
    assert made["action"]["error"]["code"] == 30515
    assert [x["user"]["user_id"] for x in me.get("/v1/links").json()["links"]] == [dan]


async def test_two_apps_three_people_deliver_through_links(
        server: Server, shop: App, travel: App, home: App,
        person: Callable[[str], httpx.Client], users: Users) -> None:
    bob, carol, dave = users("bob"), users("carol"), users("dave")
    bob_t = users("bob-t")
    h_bob, h_carol = users("h-bob"), users("h-carol")
    imported(server, shop, (bob, "Bob"), (carol, "Carol"))
    imported(server, travel, (bob_t, "Bobby"), (dave, "Dave"))
    carol_http, bob_http = person(h_carol), person(h_bob)
    link(carol_http, shop, carol)
    link(bob_http, travel, bob_t)

    bob_shop = await Conn.login(server, shop, bob)  # Bob, ShopX embedded
    carol_home = await Conn.login(server, home, h_carol)  # Carol's messenger
    bob_home = await Conn.login(server, home, h_bob)  # Bob's messenger
    dave_travel = await Conn.login(server, travel, dave)  # Dave, TravelY embedded
    carol_shop = await Conn.login(server, shop, carol)  # Carol's ShopX app, open too
    try:
        # ShopX embedded -> Carol: her app session and her messenger both get it.
        sent = await bob_shop.send_text(f"c2c_{carol}", "is the camera still there?")
        assert sent["ok"], sent
        in_app = await carol_shop.event("message")
        relayed = await carol_home.event("message")
        assert in_app["conversation_id"] == f"c2c_{bob}"
        assert relayed["conversation_id"] == f"app:{shop.sdkappid}:c2c_{bob}"
        assert relayed["seq"] == in_app["seq"] and text_of(relayed) == text_of(in_app)
        assert relayed["link"]["app"]["name"] == "ShopX"
        # Cards for each side, as ShopX set them (not typed by anyone).
        assert relayed["sender_card"] == {"user_id": bob, "nickname": "Bob",
                                          "avatar_url": f"https://img.example/{bob}.png"}
        assert relayed["peer_card"]["user_id"] == bob
        assert relayed["link"]["as"] == {"user_id": carol, "nickname": "Carol",
                                         "avatar_url": f"https://img.example/{carol}.png"}
        await bob_home.no_event("message")  # Bob's messenger links TravelY, not ShopX

        # Carol answers from the messenger: sent as her ShopX identity.
        qualified = f"app:{shop.sdkappid}:c2c_{bob}"
        ack = carol_http.post("/v1/links/messages", json={
            "conversation_id": qualified, "client_msg_id": uuid.uuid4().hex,
            "elements": [{"type": "text", "text": "yes, still here"}]})
        assert ack.status_code == 200, ack.text
        assert ack.json()["conversation_id"] == qualified
        got = await bob_shop.event("message")
        assert got["sender"] == carol and text_of(got) == "yes, still here"
        assert got["conversation_id"] == f"c2c_{carol}" and "link" not in got
        assert (await carol_shop.event("message"))["sender"] == carol
        # Her messenger's devices see what she sent, as her other devices do.
        echo = await carol_home.event("message")
        assert echo["sender"] == carol and echo["conversation_id"] == qualified
        # The app's admin API sees it as a message of the app.
        with server.http(shop, shop.admin) as admin:
            page = admin.get(f"/v1/admin/conversations/{bob}/c2c_{carol}/messages").json()
        assert [text_of(m) for m in page["messages"]][-2:] == [
            "is the camera still there?", "yes, still here"]

        # History and conversations in the messenger carry the identity cards.
        hist = carol_http.get(f"/v1/links/conversations/{qualified}/messages").json()
        assert [m["sender_card"]["nickname"] for m in hist["messages"]] == ["Bob", "Carol"]
        assert all(m["app"]["name"] == "ShopX" and m["conversation_id"] == qualified
                   for m in hist["messages"])
        grouped = carol_http.get("/v1/links/conversations").json()["apps"]
        assert [(g["app"]["name"], g["as"]["user_id"]) for g in grouped] == [("ShopX", carol)]
        conv = grouped[0]["conversations"][0]
        assert conv["conversation_id"] == qualified and conv["peer_card"]["nickname"] == "Bob"
        assert conv["last_message"]["sender_card"]["user_id"] == carol

        # TravelY embedded -> Bob's TravelY identity: reaches Bob's messenger.
        assert (await dave_travel.send_text(f"c2c_{bob_t}", "your booking"))["ok"]
        to_bob = await bob_home.event("message")
        assert to_bob["conversation_id"] == f"app:{travel.sdkappid}:c2c_{dave}"
        assert to_bob["link"]["app"]["name"] == "TravelY"
        await bob_shop.no_event("message")  # Bob's ShopX identity is not that one
        await carol_home.no_event("message")

        # Another home account cannot speak as Carol's identity.
        forged = bob_http.post("/v1/links/messages", json={
            "conversation_id": qualified, "client_msg_id": "x1",
            "elements": [{"type": "text", "text": "I am Carol"}]})
        assert error_of(forged) == (404, 96056)
        assert error_of(bob_http.get(f"/v1/links/conversations/{qualified}/messages")
                        ) == (404, 96056)

        # Unlinked by the app: nothing more reaches the messenger.
        with server.http(shop, shop.admin) as admin:
            assert admin.delete(f"/v1/admin/links/{carol}").json()["unlinked"] is True
        removed = await carol_home.event("link_removed")
        assert removed == {"sdkappid": shop.sdkappid, "user_id": carol, "by": "app"}
        assert (await bob_shop.send_text(f"c2c_{carol}", "hello?"))["ok"]
        assert text_of(await carol_shop.event("message")) == "hello?"
        await carol_home.no_event("message")
        assert error_of(carol_http.post("/v1/links/messages", json={
            "conversation_id": qualified, "client_msg_id": "x2",
            "elements": [{"type": "text", "text": "still me"}]})) == (404, 96056)
    finally:
        for conn in (bob_shop, carol_home, bob_home, dave_travel, carol_shop):
            await conn.close()


async def test_a_home_device_catches_up_on_its_linked_conversations(
        server: Server, shop: App, person: Callable[[str], httpx.Client],
        users: Users) -> None:
    bob, carol = users("bob"), users("carol")
    imported(server, shop, (bob, "Bob"), (carol, "Carol"))
    carol_http = person(users("h-carol"))
    link(carol_http, shop, carol)
    qualified = f"app:{shop.sdkappid}:c2c_{bob}"
    with server.http(shop, bob) as bob_http:
        for n in range(3):
            assert bob_http.post("/v1/messages", json={
                "conversation_id": f"c2c_{carol}", "client_msg_id": f"m{n}",
                "elements": [{"type": "text", "text": f"m{n}"}]}).status_code == 200
    first = carol_http.post(f"/v1/links/{shop.sdkappid}/sync", json={"known": {}}).json()
    assert [text_of(m) for m in first["messages"]] == ["m0", "m1", "m2"]
    assert first["conversations"][0]["conversation_id"] == qualified
    assert first["messages"][0]["sender_card"]["nickname"] == "Bob"
    last = first["messages"][-1]["seq"]
    with server.http(shop, bob) as bob_http:
        bob_http.post("/v1/messages", json={
            "conversation_id": f"c2c_{carol}", "client_msg_id": "m3",
            "elements": [{"type": "text", "text": "m3"}]})
    again = carol_http.post(f"/v1/links/{shop.sdkappid}/sync",
                            json={"known": {qualified: last}}).json()
    assert [text_of(m) for m in again["messages"]] == ["m3"] and again["more"] is False
    read = carol_http.post(f"/v1/links/conversations/{qualified}/read", json={})
    assert read.status_code == 200 and read.json()["unread"] == 0
    assert error_of(carol_http.post("/v1/links/99/sync", json={"known": {}})) == (404, 96056)
    assert error_of(carol_http.get("/v1/links/conversations/c2c_bob/messages"))[1] == 10009
    # An identity its app disabled cannot be used through the link either.
    with server.http(shop, shop.admin) as admin:
        assert admin.post(f"/v1/admin/accounts/{carol}/disable").status_code == 200
    assert error_of(carol_http.post("/v1/links/messages", json={
        "conversation_id": qualified, "client_msg_id": "m9",
        "elements": [{"type": "text", "text": "as a disabled account"}]})) == (403, 70051)
    assert error_of(carol_http.post(f"/v1/links/{shop.sdkappid}/sync", json={})) == (403, 70051)


def test_the_link_url_is_the_messenger_without_cache_or_referrer(server: Server,
                                                                  shop: App) -> None:
    with server.http() as http:
        page = http.get(f"/l/{shop.sdkappid}", params={"ticket": "t", "to": "bob"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe" not in csp
        assert page.text == http.get("/").text  # the messenger runs the flow
        assert error_of(http.get("/l/not-a-number")) == (400, 10002)


def test_an_admins_account_delete_ends_its_links(server: Server, shop: App, home: App,
                                                 users: Users) -> None:
    carol, dan = users("carol"), users("dan")
    name = f"a{uuid.uuid4().hex[:12]}"
    ana = register(server, name)
    ben = register(server, f"b{uuid.uuid4().hex[:12]}")
    with (httpx.Client(base_url=server.base_url, timeout=30, headers={
            "Authorization": f"Bearer {ana['usersig']}"}) as as_ana,
          httpx.Client(base_url=server.base_url, timeout=30, headers={
            "Authorization": f"Bearer {ben['usersig']}"}) as as_ben):
        link(as_ana, shop, carol)
        link(as_ben, shop, dan)
        # The app deletes its user dan: the link ends, and importing dan
        # again does not bring it back.
        with server.http(shop, shop.admin) as admin:
            assert admin.post("/v1/admin/accounts/delete",
                              json={"user_ids": [dan]}).status_code == 200
            assert admin.get(f"/v1/admin/links/{dan}").json()["linked"] is False
        assert as_ben.get("/v1/links").json() == {"links": []}
        imported(server, shop, (dan, "Dan"))
        assert as_ben.get("/v1/links").json() == {"links": []}
        assert [x["user"]["user_id"] for x in as_ana.get("/v1/links").json()["links"]] == [carol]

    # The home app's admin deletes ana: her username is free again and carol
    # may link to another account.
    with server.http(home, home.admin) as admin:
        assert admin.post("/v1/admin/accounts/delete",
                          json={"user_ids": [ana["user_id"]]}).status_code == 200
    again = register(server, name)
    assert again["user_id"] != ana["user_id"]
    with httpx.Client(base_url=server.base_url, timeout=30, headers={
            "Authorization": f"Bearer {again['usersig']}"}) as as_again:
        assert link(as_again, shop, carol)["link"]["user"]["user_id"] == carol
