"""Message search through the public surfaces (REST ``GET /v1/search``, the
``search`` op, ``GET /v1/admin/search``), on SQLite and PostgreSQL: what a
user finds and never finds (others' conversations, other apps, groups before
the join or after leaving, cleared history, recalled messages, old text of
edited ones), Chinese text and short words, filters, paging, and hostile
query strings that must get 10002 or plain results, never a 500."""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.test_history import _ok as ok
from tests.support import App, Conn, Server, error_of

Users = Callable[[str], str]


def search(server: Server, app: App, user: str, q: str, **params: Any) -> dict[str, Any]:
    with server.http(app, user) as http:
        reply = http.get("/v1/search", params={"q": q, **params})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def texts(found: dict[str, Any]) -> list[str]:
    return [" ".join(e.get("text", e.get("name", e.get("desc", "")))
                     for e in r["message"]["elements"]) for r in found["results"]]


def admin(server: Server, app: App) -> httpx.Client:
    return server.http(app, app.admin)


def gid() -> str:
    return f"g-{uuid.uuid4().hex[:12]}"


async def test_found_in_own_conversations_only(server: Server, shared_app: App,
                                               other_app: App, users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    a = await Conn.login(server, shared_app, alice)
    assert (await a.send_text(f"c2c_{bob}", "Dinner at the Peking Duck?"))["ok"]
    assert (await a.send_text(f"c2c_{carol}", "the duck was great"))["ok"]
    # The same users and words in another app.
    o = await Conn.login(server, other_app, alice)
    assert (await o.send_text(f"c2c_{bob}", "Peking duck in the other app"))["ok"]

    found = search(server, shared_app, bob, "peking")
    assert texts(found) == ["Dinner at the Peking Duck?"]
    [result] = found["results"]
    assert result["conversation_id"] == f"c2c_{alice}"
    message = result["message"]
    assert (message["conversation_id"], message["sender"], message["seq"], message["state"]) == (
        f"c2c_{alice}", alice, 1, "normal")
    assert message["reactions"] == []
    snippet = result["snippet"]
    assert [snippet[s:e] for s, e in result["highlights"]] == ["Peking"]
    assert (found["more"], found["cursor"]) == (False, None)
    # Every word must occur, in any order, ignoring case.
    assert texts(search(server, shared_app, bob, "DUCK dinner")) == [
        "Dinner at the Peking Duck?"]
    assert texts(search(server, shared_app, bob, "duck pizza")) == []
    assert texts(search(server, shared_app, bob, "pizza")) == []
    # Alice sees both of her conversations, newest first.
    assert texts(search(server, shared_app, alice, "duck")) == [
        "the duck was great", "Dinner at the Peking Duck?"]
    # Carol was not in alice and bob's conversation; a stranger sees nothing.
    assert texts(search(server, shared_app, carol, "peking")) == []
    assert texts(search(server, shared_app, users("dave"), "duck")) == []
    # The other app's alice finds only her app's message.
    assert texts(search(server, other_app, alice, "peking")) == ["Peking duck in the other app"]

    # The same search over the WebSocket.
    b = await Conn.login(server, shared_app, bob)
    over_ws = await ok(b, "search", {"q": "peking"})
    assert over_ws == found
    for conn in (a, o, b):
        await conn.close()


async def test_chinese_short_words_and_literal_wildcards(server: Server, shared_app: App,
                                                          users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    a = await Conn.login(server, shared_app, alice)
    for text in ("我们明天去北京吃烤鸭", "上海见", "discount 100% today", "file_name x",
                 "a quote \"here\" NEAR(this) and* -that"):
        assert (await a.send_text(f"c2c_{bob}", text))["ok"]
    assert (await a.request("send", {
        "conversation_id": f"c2c_{bob}", "client_msg_id": uuid.uuid4().hex,
        "elements": [{"type": "file", "url": "https://x/f", "name": "Quarterly-Report.PDF"},
                     {"type": "location", "desc": "天安门广场", "latitude": 39.9,
                      "longitude": 116.4},
                     {"type": "custom", "data": "{\"secret\":1}", "desc": "order shipped"}],
    }))["ok"]

    def find(q: str) -> list[str]:
        return texts(search(server, shared_app, bob, q))

    assert find("北京") == ["我们明天去北京吃烤鸭"]  # two characters: shorter than a trigram
    assert find("北京吃") == ["我们明天去北京吃烤鸭"]
    assert find("烤鸭 明天") == ["我们明天去北京吃烤鸭"]
    assert find("京") == ["我们明天去北京吃烤鸭"]
    assert find("广州") == []
    assert find("上海") == ["上海见"]
    # LIKE's wildcards are plain characters in a query.
    assert find("0%") == ["discount 100% today"]
    assert find("%") == ["discount 100% today"]
    assert find("e_n") == ["file_name x"]
    assert find("_") == ["file_name x"]
    # FTS5 syntax is plain text too.
    assert find('"here"') == ['a quote "here" NEAR(this) and* -that']
    assert find("NEAR(this) and*") == ['a quote "here" NEAR(this) and* -that']
    assert find("-that") == ['a quote "here" NEAR(this) and* -that']
    # File names, location and custom descriptions are found; custom data is not.
    file_text = "Quarterly-Report.PDF 天安门广场 order shipped"
    assert find("report.pdf") == [file_text]
    assert find("天安门") == [file_text]
    assert find("shipped") == [file_text]
    assert find("secret") == []
    await a.close()


async def indexed(server: Server) -> None:
    """On SQLite, until the search step has made and indexed every text row
    (then FTS5 gives the candidates, not the LIKE of the rows above its
    watermark); PostgreSQL indexes in the message's transaction."""
    if server.database_url:
        return
    for _ in range(400):
        if await server.sql(
                "SELECT (SELECT built_to FROM message_texts_fts_built)"
                " >= (SELECT coalesce(max(rowid), 0) FROM messages)"
                " AND (SELECT indexed_to FROM message_texts_fts_indexed)"
                " >= (SELECT coalesce(max(id), 0) FROM message_texts)"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the search step did not index the messages")


async def test_words_whose_trigrams_are_apart_are_not_found(server: Server, shared_app: App,
                                                            users: Users) -> None:
    """SQLite's index answers a word's trigrams, anywhere in a text (it keeps
    no positions, migration 0034): a text holding them apart is not found,
    before and after the index holds it, on both backends."""
    alice, bob = users("alice"), users("bob")
    a = await Conn.login(server, shared_app, alice)
    sent = ["abcxbcd here", "Abcd there", "aaaa", "xaaax", "我们去北京吃烤鸭", "北京吃了 京吃烤肉",
            "cafe\u0301 au lait"]
    for text in sent:
        assert (await a.send_text(f"c2c_{bob}", text))["ok"]
    # Word -> the texts holding it, newest first.
    holding = {"abcd": [1], "BCD": [1, 0], "aaaa": [2], "aaa": [3, 2], "aaaaa": [],
               "北京吃烤": [4], "北京吃": [5, 4], "去北京吃烤鸭": [4], "京吃烤": [5, 4],
               "cafe\u0301": [6], "café": [], "abcd xbcd": [], "bcd here": [1, 0]}

    async def check() -> None:
        for q, which in holding.items():
            assert texts(search(server, shared_app, bob, q)) == [sent[i] for i in which], q
            with admin(server, shared_app) as http:
                whole = http.get("/v1/admin/search", params={"q": q, "user_id": bob}).json()
            assert texts(whole) == [sent[i] for i in which], q
        over_ws = await ok(a, "search", {"q": "abcd"})
        assert texts(over_ws) == ["Abcd there"]

    await check()  # SQLite: the rows not indexed yet (LIKE)
    await indexed(server)
    await check()  # SQLite: the index's candidates, then the LIKE
    await a.close()


async def test_groups_from_the_join_point_and_not_after_leaving(
        server: Server, shared_app: App, users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    a = await Conn.login(server, shared_app, alice)
    b = await Conn.login(server, shared_app, bob)
    work, meeting = gid(), gid()
    await ok(a, "group_create", {"type": "Work", "group_id": work})
    await ok(a, "group_create", {"type": "Meeting", "group_id": meeting})
    for g in (work, meeting):
        assert (await a.send_text(f"group_{g}", f"plan alpha {g}"))["ok"]
    await ok(a, "group_invite", {"group_id": work, "user_ids": [bob]})
    await ok(b, "group_join", {"group_id": meeting})
    for g in (work, meeting):
        assert (await a.send_text(f"group_{g}", f"plan beta {g}"))["ok"]
    # Work: only what came after bob's join; Meeting: its history too.
    assert texts(search(server, shared_app, bob, "plan")) == [
        f"plan beta {meeting}", f"plan beta {work}", f"plan alpha {meeting}"]
    found = search(server, shared_app, bob, "plan", conversation_id=f"group_{work}")
    assert texts(found) == [f"plan beta {work}"]
    assert found["results"][0]["conversation_id"] == f"group_{work}"
    # Not a member: 10011; no such group: 10010.
    with server.http(shared_app, carol) as http:
        assert error_of(http.get("/v1/search", params={
            "q": "plan", "conversation_id": f"group_{work}"})) == (403, 10011)
        assert error_of(http.get("/v1/search", params={
            "q": "plan", "conversation_id": f"group_{gid()}"})) == (404, 10010)
        assert http.get("/v1/search", params={"q": "plan"}).json()["results"] == []
    # After leaving, nothing of the group is found.
    await ok(b, "group_leave", {"group_id": work})
    assert texts(search(server, shared_app, bob, "plan")) == [
        f"plan beta {meeting}", f"plan alpha {meeting}"]
    # A disbanded group's messages are gone with it.
    await ok(a, "group_disband", {"group_id": meeting})
    assert texts(search(server, shared_app, alice, "plan")) == [
        f"plan beta {work}", f"plan alpha {work}"]
    assert await server.sql("SELECT count(*) FROM message_texts mt WHERE NOT EXISTS "
                            "(SELECT 1 FROM messages m WHERE m.conversation_id = "
                            "mt.conversation_id AND m.seq = mt.seq)") == 0
    await a.close()
    await b.close()


async def test_cleared_history_recall_and_edit(server: Server, shared_app: App,
                                               users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    a = await Conn.login(server, shared_app, alice)
    assert (await a.send_text(f"c2c_{bob}", "old news about tango"))["ok"]
    # Deleting without clearing keeps the history, and search with it.
    await ok(a, "conversation_delete", {"conversation_id": f"c2c_{bob}"})
    assert texts(search(server, shared_app, alice, "tango")) == ["old news about tango"]
    await ok(a, "conversation_delete", {"conversation_id": f"c2c_{bob}",
                                        "clear_history": True})
    assert texts(search(server, shared_app, alice, "tango")) == []
    assert (await a.send_text(f"c2c_{bob}", "fresh news about tango"))["ok"]
    assert texts(search(server, shared_app, alice, "tango")) == ["fresh news about tango"]
    # The peer keeps what alice cleared.
    assert texts(search(server, shared_app, bob, "tango")) == [
        "fresh news about tango", "old news about tango"]

    recalled = (await a.send_text(f"c2c_{bob}", "launch code zebra"))["data"]
    assert texts(search(server, shared_app, bob, "zebra")) == ["launch code zebra"]
    await ok(a, "recall", {"conversation_id": f"c2c_{bob}", "seq": recalled["seq"]})
    for user in (alice, bob):
        assert texts(search(server, shared_app, user, "zebra")) == []

    edited = (await a.send_text(f"c2c_{bob}", "meet at noon"))["data"]
    await ok(a, "edit", {"conversation_id": f"c2c_{bob}", "seq": edited["seq"],
                         "elements": [{"type": "text", "text": "meet at midnight"}]})
    assert texts(search(server, shared_app, bob, "noon")) == []
    [result] = search(server, shared_app, bob, "midnight")["results"]
    assert (result["message"]["state"], result["message"]["seq"]) == ("edited", edited["seq"])
    # An edit of the custom data alone keeps the text findable.
    await ok(a, "edit", {"conversation_id": f"c2c_{bob}", "seq": edited["seq"],
                         "cloud_custom_data": "x"})
    assert texts(search(server, shared_app, bob, "midnight")) == ["meet at midnight"]
    await a.close()


async def test_filters_paging_and_imported_history(server: Server, shared_app: App,
                                                   users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    base = 1_700_000_000_000
    with admin(server, shared_app) as http:
        # Ten imported messages, a minute apart, alternating senders.
        for i in range(10):
            sender, peer = (alice, bob) if i % 2 == 0 else (bob, alice)
            reply = http.post("/v1/admin/messages/import", json={
                "from": sender, "conversation_id": f"c2c_{peer}",
                "client_msg_id": f"imp-{i}-{uuid.uuid4().hex[:6]}", "time": base + i * 60_000,
                "elements": [{"type": "text", "text": f"weekly report {i}"}]})
            assert reply.status_code == 200, reply.text
        reply = http.post("/v1/admin/messages", json={
            "from": carol, "conversation_id": f"c2c_{alice}", "client_msg_id": uuid.uuid4().hex,
            "elements": [{"type": "text", "text": "carol's report"}]})
        assert reply.status_code == 200, reply.text
    everything = texts(search(server, shared_app, alice, "report"))
    assert everything == ["carol's report"] + [f"weekly report {i}" for i in range(9, -1, -1)]
    assert texts(search(server, shared_app, alice, "report", sender=bob)) == [
        f"weekly report {i}" for i in (9, 7, 5, 3, 1)]
    assert texts(search(server, shared_app, alice, "report", conversation_id=f"c2c_{carol}")
                 ) == ["carol's report"]
    assert texts(search(server, shared_app, alice, "report", since=base + 3 * 60_000,
                        until=base + 6 * 60_000)) == [f"weekly report {i}" for i in (5, 4, 3)]
    # A conversation where nothing was said: nothing found.
    assert texts(search(server, shared_app, alice, "report",
                        conversation_id=f"c2c_{users('nobody')}")) == []
    # Paging: three at a time, newest first, each once.
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = search(server, shared_app, alice, "report", **params)
        seen += texts(page)
        pages += 1
        assert page["more"] == (page["cursor"] is not None)
        if not page["more"]:
            break
        assert len(page["results"]) == 3
        cursor = page["cursor"]
    assert (seen, pages) == (everything, 4)
    # Short words page the same way.
    b = await Conn.login(server, shared_app, bob)
    first = await ok(b, "search", {"q": "t 1", "limit": 1})
    assert [r["message"]["elements"][0]["text"] for r in first["results"]] == [
        "weekly report 1"]
    assert first["more"] is False
    await b.close()


async def test_admin_search(server: Server, shared_app: App, other_app: App,
                            users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    a = await Conn.login(server, shared_app, alice)
    word = f"kumquat{uuid.uuid4().hex[:6]}"
    assert (await a.send_text(f"c2c_{bob}", f"{word} for bob"))["ok"]
    g = gid()
    await ok(a, "group_create", {"type": "Work", "group_id": g, "members": [carol]})
    assert (await a.send_text(f"group_{g}", f"{word} for the group"))["ok"]
    with admin(server, shared_app) as http:
        reply = http.get("/v1/admin/search", params={"q": word})
        assert reply.status_code == 200, reply.text
        results = reply.json()["results"]
        assert [(r["conversation_id"], r["message"]["elements"][0]["text"]) for r in results
                ] == [(f"group_{g}", f"{word} for the group"), (f"c2c_{bob}", f"{word} for bob")]
        # As one user sees it: exactly that user's search.
        as_carol = http.get("/v1/admin/search", params={"q": word, "user_id": carol}).json()
        assert as_carol == search(server, shared_app, carol, word)
        assert texts(as_carol) == [f"{word} for the group"]
        only_group = http.get("/v1/admin/search",
                              params={"q": word, "conversation_id": f"group_{g}"}).json()
        assert texts(only_group) == [f"{word} for the group"]
        assert error_of(http.get("/v1/admin/search", params={
            "q": word, "conversation_id": f"c2c_{bob}"})) == (400, 10009)
        assert error_of(http.get("/v1/admin/search", params={
            "q": word, "conversation_id": f"group_{gid()}"})) == (404, 10010)
        assert error_of(http.get("/v1/admin/search", params={
            "q": word, "user_id": " bad"})) == (400, 10008)
    # Another app's admin finds none of it; a user's ticket is not an admin's.
    with admin(server, other_app) as http:
        assert http.get("/v1/admin/search", params={"q": word}).json()["results"] == []
    with server.http(shared_app, alice) as http:
        assert http.get("/v1/admin/search", params={"q": word}).status_code == 403
    await a.close()


async def test_common_words_searched_the_other_way(make_server: Callable[..., Server],
                                                   users: Users) -> None:
    """With a probe of 3 (TIDINGS_SEARCH_FTS_PROBE), a word with 3 matches or
    more is common: SQLite reads the searcher's own conversations, or the
    app's texts newest first, instead of every match. Same answers."""
    server = make_server(search_fts_probe="3")
    app = server.create_app()
    alice, bob, carol, dave = users("alice"), users("bob"), users("carol"), users("dave")
    c = await Conn.login(server, app, carol)
    for i in range(5):
        assert (await c.send_text(f"c2c_{dave}", f"weekly report {i}"))["ok"]
    a = await Conn.login(server, app, alice)
    assert (await a.send_text(f"c2c_{bob}", "report card zebra"))["ok"]
    # Alice holds one entry (< 3): her conversations are read.
    assert texts(search(server, app, alice, "report")) == ["report card zebra"]
    assert texts(search(server, app, alice, "REPORT card")) == ["report card zebra"]
    # Carol holds five: the index.
    assert texts(search(server, app, carol, "report 3")) == ["weekly report 3"]
    page = search(server, app, carol, "report", limit=2)
    assert texts(page) == ["weekly report 4", "weekly report 3"]
    assert texts(search(server, app, carol, "report", limit=5, cursor=page["cursor"])) == [
        "weekly report 2", "weekly report 1", "weekly report 0"]
    with admin(server, app) as http:
        whole = http.get("/v1/admin/search", params={"q": "report"}).json()
        assert texts(whole) == ["report card zebra"] + [
            f"weekly report {i}" for i in range(4, -1, -1)]
        rare = http.get("/v1/admin/search", params={"q": "zebra"}).json()
        assert texts(rare) == ["report card zebra"]
    await a.close()
    await c.close()


async def test_bad_requests(server: Server, shared_app: App, users: Users) -> None:
    alice = users("alice")
    with server.http(shared_app, alice) as http:
        for params in ({}, {"q": ""}, {"q": "   "}, {"q": "\x00\x01"}, {"q": "x" * 201},
                       {"q": " ".join("abcdefghij")}, {"q": "a", "limit": 0},
                       {"q": "a", "limit": 10_000}, {"q": "a", "limit": "many"},
                       {"q": "a", "cursor": "nope"}, {"q": "a", "cursor": "1.2"},
                       {"q": "a", "cursor": "99999999999999999999.1.1"},
                       {"q": "a", "since": -1}, {"q": "a", "until": "later"}):
            assert error_of(http.get("/v1/search", params=params)) == (400, 10002), params
        assert error_of(http.get("/v1/search", params={"q": "a", "sender": " x"})) == (
            400, 10008)
        assert error_of(http.get("/v1/search", params={"q": "a", "conversation_id": "x"})) == (
            400, 10009)
    with server.http() as http:
        assert http.get("/v1/search", params={"q": "a"}).status_code == 401
    a = await Conn.login(server, shared_app, alice)
    for data in ({}, {"q": 5}, {"q": "a", "limit": True}, {"q": "a", "extra": 1}, {"q": ""}):
        reply = await a.request("search", data)
        assert (reply["ok"], reply["error"]["code"]) == (False, 10002), data
    await a.close()


HOSTILE_TEXTS = ['a "quoted" NEAR(x y) word', "100% of_the * stars -minus +plus",
                 "北京 烤鸭 col:val", "AND OR NOT ^start (paren)", "back\\slash !bang {brace}"]


@pytest.fixture(scope="module")
def hostile_user(shared_server: Server, shared_app: App) -> str:
    """A user whose conversation holds text full of query syntax."""
    user = f"hostile-{uuid.uuid4().hex[:8]}"
    with admin(shared_server, shared_app) as http:
        for text in HOSTILE_TEXTS:
            reply = http.post("/v1/admin/messages", json={
                "from": user, "conversation_id": f"c2c_{user}-peer",
                "client_msg_id": uuid.uuid4().hex,
                "elements": [{"type": "text", "text": text}]})
            assert reply.status_code == 200, reply.text
    return user


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(min_size=0, max_size=40) | st.lists(st.sampled_from(
    ['"', "'", "*", "^", "-", "+", "(", ")", ":", "NEAR", "AND", "OR", "NOT", "%", "_", "!",
     "\\", "\x00", "{", "}", "col:", "北京", " ", "of", "x y", "stars"]), max_size=8).map(
    "".join))
def test_hostile_queries_never_break_the_search(shared_server: Server, shared_app: App,
                                                hostile_user: str, q: str) -> None:
    """Whatever the query: 10002, or exactly the messages holding every word."""
    with shared_server.http(shared_app, hostile_user) as http:
        reply = http.get("/v1/search", params={"q": q})
    if reply.status_code != 200:
        assert error_of(reply) == (400, 10002), (q, reply.text)
        return
    words = "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c
                    for c in q).lower().split()
    expected = [t for t in reversed(HOSTILE_TEXTS) if all(w in t.lower() for w in words)]
    assert texts(reply.json()) == expected, q
