"""The linked conversations asked for by id (``conversation_ids``), over the
``link_conversations`` op and ``GET /v1/links/conversations``: a home
account's state of just those conversations of its linked identities,
grouped by app, hidden ones included, ones no linked identity of its is in
left out; bad ids refused with their code before anything is read (the
rules of the ``conversations`` op's ``conversation_ids``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.test_links import imported, link
from tests.sdk.test_client import FAST
from tests.support import App, Conn, Server, error_of, openapi_doc
from tidings.sdk import Client, ErrorCode, TidingsError

Users = Callable[[str], str]


@pytest.fixture(scope="module")
def shop(shared_server: Server) -> App:
    return shared_server.create_app("ShopX")


@pytest.fixture(scope="module")
def travel(shared_server: Server) -> App:
    return shared_server.create_app("TravelY")


@pytest.fixture(scope="module")
def home(shared_server: Server) -> App:
    return shared_server.home_app()


def _by_app(apps: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    return {g["app"]["sdkappid"]: g["conversations"] for g in apps}


async def _asked(conn: Conn, data: dict[str, Any]) -> list[dict[str, Any]]:
    reply = await conn.request("link_conversations", data)
    assert reply["ok"], reply
    return reply["data"]["apps"]  # type: ignore[no-any-return]


async def test_by_id_hidden_included_foreign_left_out(server: Server, shop: App, travel: App,
                                                      home: App, users: Users) -> None:
    carol, bob, dan, eve, fay = (users(n) for n in ("carol", "bob", "dan", "eve", "fay"))
    tom, me = users("tom"), users("h-carol")
    imported(server, shop, (carol, "Carol"), (bob, "Bob the seller"), (dan, "Dan"))
    imported(server, travel, (tom, "Tom"))
    with server.http(home, me) as http:
        link(http, shop, carol)
        link(http, travel, tom)
    bob_shop = await Conn.login(server, shop, bob)
    dan_shop = await Conn.login(server, shop, dan)
    eve_shop = await Conn.login(server, shop, eve)
    carol_shop = await Conn.login(server, shop, carol)
    mine = await Conn.login(server, home, me)
    try:
        # Bob: two messages to carol, muted and hidden by carol's own ShopX client.
        for text in ("one", "two"):
            assert (await bob_shop.send_text(f"c2c_{carol}", text))["ok"]
        muted = await carol_shop.request("conversation_set", {
            "conversation_id": f"c2c_{bob}", "muted": True, "draft": "later"})
        assert muted["ok"], muted
        hidden = await carol_shop.request("conversation_hide", {"conversation_id": f"c2c_{bob}"})
        assert hidden["ok"] and hidden["data"]["hidden"], hidden
        # Dan: one message (listed). A ShopX group without carol: not hers to see.
        assert (await dan_shop.send_text(f"c2c_{carol}", "hi"))["ok"]
        group = users("team")
        made = await eve_shop.request("group_create", {"type": "Work", "group_id": group,
                                                       "members": [fay]})
        assert made["ok"], made
        assert (await eve_shop.send_text(f"group_{group}", "members only"))["ok"]

        q_bob, q_dan = f"app:{shop.sdkappid}:c2c_{bob}", f"app:{shop.sdkappid}:c2c_{dan}"
        # The full list leaves the hidden one out ...
        full = _by_app(await _asked(mine, {}))
        assert [c["conversation_id"] for c in full[shop.sdkappid]] == [q_dan]
        assert full[travel.sdkappid] == []
        # ... by id it is there, with its settings, unread count and the
        # peer's card; the foreign group, a conversation never started (in
        # either app) and an app with no link of hers are not.
        asked = [q_bob, q_dan, f"app:{shop.sdkappid}:group_{group}",
                 f"app:{shop.sdkappid}:c2c_{fay}", f"app:{travel.sdkappid}:c2c_{bob}",
                 f"app:{shop.sdkappid + 10_000}:c2c_{bob}"]
        found = await _asked(mine, {"conversation_ids": asked})
        assert [g["app"]["sdkappid"] for g in found] == [shop.sdkappid, travel.sdkappid]
        assert found[0]["as"]["user_id"] == carol and found[1]["conversations"] == []
        by_id = {c["conversation_id"]: c for c in found[0]["conversations"]}
        assert set(by_id) == {q_bob, q_dan}
        hid = by_id[q_bob]
        assert (hid["hidden"], hid["muted"], hid["draft"], hid["unread"], hid["last_seq"],
                hid["read_seq"]) == (True, True, "later", 2, 2, 0)
        assert hid["peer_card"]["nickname"] == "Bob the seller"
        assert hid["last_message"]["conversation_id"] == q_bob
        assert hid["last_message"]["sender"] == bob
        assert by_id[q_dan] == full[shop.sdkappid][0]
        # The same answer from REST, the id repeated (a limit does not cut it).
        with server.http(home, me) as http:
            reply = http.get("/v1/links/conversations",
                             params=[("conversation_ids", i) for i in asked] + [("limit", "1")])
            assert reply.status_code == 200, reply.text
            assert reply.json()["apps"] == found
            # ``sdkappid`` keeps one app: the other app's ids are left out
            # (and an app none of whose ids is asked for answers no group).
            reply = http.get("/v1/links/conversations", params={
                "sdkappid": travel.sdkappid, "conversation_ids": [q_bob, asked[4]]})
            assert reply.status_code == 200, reply.text
            assert [(g["app"]["sdkappid"], g["conversations"])
                    for g in reply.json()["apps"]] == [(travel.sdkappid, [])]
            reply = http.get("/v1/links/conversations", params={
                "sdkappid": travel.sdkappid, "conversation_ids": q_bob})
            assert reply.status_code == 200 and reply.json()["apps"] == [], reply.text
        # An app asked for alone with no id of another: its group only; a
        # duplicate id answers it once.
        only = await _asked(mine, {"conversation_ids": [q_dan, q_dan]})
        assert [[c["conversation_id"] for c in g["conversations"]] for g in only] == [[q_dan]]
        # Asking changes nothing: the hidden one stays out of the full list.
        again = _by_app(await _asked(mine, {}))
        assert [c["conversation_id"] for c in again[shop.sdkappid]] == [q_dan]
    finally:
        for conn in (bob_shop, dan_shop, eve_shop, carol_shop, mine):
            await conn.close()


async def test_bad_ids_refused_with_their_code(server: Server, shop: App, home: App,
                                               users: Users) -> None:
    carol, bob, me = users("carol"), users("bob"), users("h-carol")
    imported(server, shop, (carol, "Carol"), (bob, "Bob"))
    with server.http(home, me) as http:
        link(http, shop, carol)
    good = f"app:{shop.sdkappid}:c2c_{bob}"
    mine = await Conn.login(server, home, me)
    too_many = [f"app:{shop.sdkappid}:c2c_{users('u')}{i}" for i in range(101)]
    try:
        for data, code in (
                ({"conversation_ids": []}, 10002), ({"conversation_ids": too_many}, 10002),
                ({"conversation_ids": good}, 10002), ({"conversation_ids": [7]}, 10002),
                ({"conversation_ids": [f"app:1:c2c_{'x' * 124}"]}, 10002),
                # Not qualified, or qualified around a bad id.
                ({"conversation_ids": [f"c2c_{bob}"]}, 10009),
                ({"conversation_ids": [good, f"app:{shop.sdkappid}:c2c_"]}, 10009),
                ({"conversation_ids": [f"app:x:c2c_{bob}"]}, 10009),
                ({"conversation_ids": [f"app:{shop.sdkappid}:c2c_{'x' * 40}"]}, 10009),
                ({"conversation_ids": [good, f"app:{shop.sdkappid}:group_ spaced"]}, 10009),
                ({"conversation_ids": [f"app:{shop.sdkappid}:bob"]}, 10009),
                # Checked before anything is read: an app with no link of
                # hers answers 96056 only for good ids.
                ({"sdkappid": shop.sdkappid + 10_000, "conversation_ids": ["c2c_x"]}, 10009),
                ({"sdkappid": shop.sdkappid + 10_000, "conversation_ids": [good]}, 96056)):
            reply = await mine.request("link_conversations", data)
            assert not reply["ok"] and reply["error"]["code"] == code, (data, reply)
    finally:
        await mine.close()
    with server.http(home, me) as http:
        for params, code in (([("conversation_ids", f"c2c_{bob}")], 10009),
                             ([("conversation_ids", good),
                               ("conversation_ids", f"app:{shop.sdkappid}:c2c_")], 10009),
                             ([("conversation_ids", i) for i in too_many], 10002),
                             ([("conversation_ids", f"app:{shop.sdkappid}:group_ spaced")],
                              10009)):
            assert error_of(http.get("/v1/links/conversations", params=params)) == (400, code)
        # A comma is part of an id (a user id may hold one), never a separator.
        reply = http.get("/v1/links/conversations",
                         params={"conversation_ids": f"{good},c2c_x"})
        assert reply.status_code == 200, reply.text
        assert [g["conversations"] for g in reply.json()["apps"]] == [[]]
    # Only a home account has linked conversations, asked by id or not.
    with server.http(shop, bob) as http:
        assert error_of(http.get("/v1/links/conversations",
                                 params={"conversation_ids": good})) == (403, 96058)


async def test_the_python_sdk_asks_by_id(server: Server, shop: App, home: App,
                                         users: Users) -> None:
    carol, bob, me = users("carol"), users("bob"), users("h-carol")
    imported(server, shop, (carol, "Carol"), (bob, "Bob"))
    with server.http(home, me) as http:
        link(http, shop, carol)
    bob_shop = await Conn.login(server, shop, bob)
    carol_shop = await Conn.login(server, shop, carol)
    try:
        assert (await bob_shop.send_text(f"c2c_{carol}", "hi"))["ok"]
        hidden = await carol_shop.request("conversation_hide", {"conversation_id": f"c2c_{bob}"})
        assert hidden["ok"], hidden
    finally:
        await bob_shop.close()
        await carol_shop.close()
    q_bob = f"app:{shop.sdkappid}:c2c_{bob}"
    async with Client(server.ws_url, home.sdkappid, me, home.sig(me), **FAST) as messenger:
        (listed,) = await messenger.linked_conversations()
        assert listed["conversations"] == []
        (group,) = await messenger.linked_conversations(conversation_ids=(q_bob,))
        (conv,) = group["conversations"]
        assert (conv["conversation_id"], conv["hidden"], conv["unread"]) == (q_bob, True, 1)
        with pytest.raises(TidingsError) as refused:
            await messenger.linked_conversations(conversation_ids=[f"c2c_{bob}"])
        assert refused.value.code == ErrorCode.INVALID_CONVERSATION_ID


def test_the_openapi_document_says_it(server: Server) -> None:
    spec = openapi_doc(server.base_url)
    route = spec["paths"]["/v1/links/conversations"]["get"]
    (param,) = [p for p in route["parameters"] if p["name"] == "conversation_ids"]
    assert param["in"] == "query" and not param.get("required", False)
    (array,) = [s for s in param["schema"]["anyOf"] if s.get("type") == "array"]
    assert (array["items"]["type"], array["minItems"], array["maxItems"]) == ("string", 1, 100)
    assert "conversation_ids" in route["description"]
    assert "hidden ones included" in route["description"]
