"""The conversation list asked for by id (``conversation_ids``), over the
WebSocket op and ``GET /v1/conversations``: the caller's state of just those
conversations, hidden ones included, ones the caller is not in left out;
bad ids refused with their code, nothing read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.sdk.test_client import FAST
from tests.support import App, Conn, Server, error_of, openapi_doc
from tidings.sdk import Client, ErrorCode, TidingsError

Users = Callable[[str], str]


async def _listed(conn: Conn, ids: list[str]) -> list[dict[str, Any]]:
    reply = await conn.request("conversations", {"conversation_ids": ids})
    assert reply["ok"], reply
    return reply["data"]["conversations"]  # type: ignore[no-any-return]


async def test_by_id_hidden_included_foreign_left_out(server: Server, shared_app: App,
                                                      users: Users) -> None:
    alice, bob, carol, dave = users("alice"), users("bob"), users("carol"), users("dave")
    a = await Conn.login(server, shared_app, alice)
    b = await Conn.login(server, shared_app, bob)
    c = await Conn.login(server, shared_app, carol)
    # alice and bob: two messages to alice, muted and hidden by her.
    for text in ("one", "two"):
        assert (await b.send_text(f"c2c_{alice}", text))["ok"]
    muted = await a.request("conversation_set", {"conversation_id": f"c2c_{bob}",
                                                 "muted": True, "draft": "later"})
    assert muted["ok"], muted
    hidden = await a.request("conversation_hide", {"conversation_id": f"c2c_{bob}"})
    assert hidden["ok"] and hidden["data"]["hidden"], hidden
    # alice and carol: one message from alice (listed, not hidden).
    assert (await a.send_text(f"c2c_{carol}", "hi"))["ok"]
    # carol and dave, a group without alice: not hers to see.
    group = users("team")
    made = await c.request("group_create", {"type": "Work", "group_id": group,
                                            "members": [dave]})
    assert made["ok"], made
    assert (await c.send_text(f"group_{group}", "members only"))["ok"]

    # The full list leaves the hidden one out ...
    full = (await a.request("conversations", {}))["data"]["conversations"]
    assert [x["conversation_id"] for x in full] == [f"c2c_{carol}"]
    # ... by id it is there, in the list's shape, with its settings and
    # unread count; the foreign group and a conversation never started are not.
    asked = [f"c2c_{bob}", f"c2c_{carol}", f"group_{group}", f"c2c_{dave}"]
    found = await _listed(a, asked)
    by_id = {x["conversation_id"]: x for x in found}
    assert set(by_id) == {f"c2c_{bob}", f"c2c_{carol}"}
    hid = by_id[f"c2c_{bob}"]
    assert (hid["hidden"], hid["muted"], hid["draft"], hid["unread"], hid["last_seq"],
            hid["read_seq"]) == (True, True, "later", 2, 2, 0)
    assert hid["last_message"]["seq"] == 2 and hid["last_message"]["sender"] == bob
    assert by_id[f"c2c_{carol}"] == full[0]
    # The same answer from REST, the id repeated (a limit does not cut it).
    with server.http(shared_app, alice) as http:
        reply = http.get("/v1/conversations",
                         params=[("conversation_ids", i) for i in asked] + [("limit", "1")])
    assert reply.status_code == 200, reply.text
    assert reply.json()["conversations"] == found
    # The group's members see it by id; a duplicate id answers it once.
    theirs = await _listed(c, [f"group_{group}", f"group_{group}"])
    assert [x["conversation_id"] for x in theirs] == [f"group_{group}"]
    assert theirs[0]["last_message"]["sender"] == carol
    for conn in (a, b, c):
        await conn.close()


async def test_bad_ids_refused_with_their_code(server: Server, shared_app: App,
                                               users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    a = await Conn.login(server, shared_app, alice)
    assert (await a.send_text(f"c2c_{bob}", "hi"))["ok"]
    too_many = [f"c2c_{users('u')}{i}" for i in range(101)]
    for ids, code in (([], 10002), (too_many, 10002), ("c2c_x", 10002), ([7], 10002),
                      (["x" * 129], 10002), (["nobody"], 10009),
                      ([f"c2c_{bob}", "c2c_"], 10009), ([f"c2c_{'x' * 40}"], 10009),
                      ([f"c2c_{bob}", "group_ spaced"], 10009)):
        reply = await a.request("conversations", {"conversation_ids": ids})
        assert not reply["ok"] and reply["error"]["code"] == code, (ids, reply)
    with server.http(shared_app, alice) as http:
        for params, code in (([("conversation_ids", "nobody")], 10009),
                             ([("conversation_ids", f"c2c_{bob}"),
                               ("conversation_ids", "c2c_")], 10009),
                             ([("conversation_ids", i) for i in too_many], 10002),
                             ([("conversation_ids", "group_ spaced")], 10009)):
            assert error_of(http.get("/v1/conversations", params=params)) == (400, code), params
        # A comma is part of an id (a user id may hold one), never a separator.
        reply = http.get("/v1/conversations", params={"conversation_ids": f"c2c_{bob},c2c_x"})
        assert reply.status_code == 200 and reply.json()["conversations"] == []
        # Without the parameter: the list as before.
        reply = http.get("/v1/conversations")
        assert [x["conversation_id"] for x in reply.json()["conversations"]] == [f"c2c_{bob}"]
    await a.close()


async def test_the_python_sdk_asks_by_id(server: Server, shared_app: App,
                                         users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    async with Client(server.ws_url, shared_app.sdkappid, alice, shared_app.sig(alice),
                      **FAST) as a:
        await a.send_text(f"c2c_{bob}", "hi")
        await a.send_text(f"c2c_{carol}", "hi")
        await a.set_conversation(f"c2c_{bob}", muted=True)
        await a.hide_conversation(f"c2c_{bob}")
        assert [c.conversation_id for c in await a.conversations()] == [f"c2c_{carol}"]
        (conv,) = await a.conversations(conversation_ids=(f"c2c_{bob}",))
        assert (conv.conversation_id, conv.muted, conv.hidden) == (f"c2c_{bob}", True, True)
        with pytest.raises(TidingsError) as refused:
            await a.conversations(conversation_ids=["bob"])
        assert refused.value.code == ErrorCode.INVALID_CONVERSATION_ID


def test_the_openapi_document_says_it(server: Server) -> None:
    spec = openapi_doc(server.base_url)
    (param,) = [p for p in spec["paths"]["/v1/conversations"]["get"]["parameters"]
                if p["name"] == "conversation_ids"]
    assert param["in"] == "query" and not param.get("required", False)
    (array,) = [s for s in param["schema"]["anyOf"] if s.get("type") == "array"]
    assert (array["items"]["type"], array["minItems"], array["maxItems"]) == ("string", 1, 100)
    doc = spec["paths"]["/v1/conversations"]["get"]["description"]
    assert "conversation_ids" in doc and "hidden ones included" in doc
