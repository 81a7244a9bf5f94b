"""Recall, edit, import and unread counts through REST: the sender's own
recall and edit (client API), and the admin's (any message of its app, no
time limit), imports with their original times, unread counts per user.
Every refusal has its stable code and changes nothing; a recall erases the
content from the database itself, and an acked recall survives ``kill -9``."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support import App, Conn, Server, error_of, openapi_doc

Users = Callable[[str], str]
MakeServer = Callable[..., Server]


def text(t: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": t}]


def admin(server: Server, app: App) -> httpx.Client:
    return server.http(app, app.admin)


def send(http: httpx.Client, peer: str, t: str, **extra: Any) -> dict[str, Any]:
    reply = http.post("/v1/messages", json={"conversation_id": f"c2c_{peer}",
                                            "client_msg_id": uuid.uuid4().hex,
                                            "elements": text(t), **extra})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def history(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    reply = http.get(path)
    assert reply.status_code == 200, reply.text
    return reply.json()["messages"]  # type: ignore[no-any-return]


def states(http: httpx.Client, path: str = "/v1/conversations") -> dict[str, dict[str, Any]]:
    reply = http.get(path)
    assert reply.status_code == 200, reply.text
    return {c["conversation_id"]: c for c in reply.json()["conversations"]}


def unread(http: httpx.Client, user: str, **params: Any) -> dict[str, Any]:
    reply = http.get(f"/v1/admin/users/{user}/unread", params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def db_rows(server: Server, sql: str) -> list[tuple[Any, ...]]:
    """Read the database directly, as an operator's tool would (the SQLite
    file read-only, or PostgreSQL with its own driver)."""
    if server.database_url:
        pg = await asyncpg.connect(server.database_url.replace("+asyncpg", ""))
        try:
            return [tuple(r) for r in await pg.fetch(sql)]
        finally:
            await pg.close()
    conn = sqlite3.connect(f"file:{server.data_dir / 'tidings.db'}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def checkpoint(server: Server) -> None:
    """Move the log into the main file and empty it (while the server runs)."""
    deadline = time.monotonic() + 10
    while True:
        conn = sqlite3.connect(server.data_dir / "tidings.db")
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        if not busy:
            return
        assert time.monotonic() < deadline, "could not checkpoint"
        time.sleep(0.05)


def raw_bytes(server: Server) -> bytes:
    return b"".join(p.read_bytes() for p in Path(server.data_dir).glob("tidings.db*"))


# -- the sender's own recall and edit, through REST ---------------------------------


async def test_client_recall_and_edit(server: Server, shared_app: App, users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    b_conn = await Conn.login(server, shared_app, bob)
    with server.http(shared_app, alice) as a, server.http(shared_app, bob) as b:
        first = send(a, bob, "first")
        second = send(a, bob, "second", cloud_custom_data="keep")
        theirs = send(b, alice, "from bob")
        for _ in range(3):
            await b_conn.event("message")
        base = f"/v1/conversations/c2c_{bob}/messages"
        edit = a.post(f"{base}/{second['seq']}/edit", json={"elements": text("second!")})
        assert edit.status_code == 200, edit.text
        body = edit.json()
        assert (body["kind"], body["seq"], body["target_seq"], body["duplicate"]) == (
            "edit", 4, 2, False)
        assert (body["target"]["state"], body["target"]["cloud_custom_data"]) == ("edited",
                                                                                  "keep")
        got = await b_conn.event("change")
        assert got["target"]["elements"] == text("second!")
        recall = a.post(f"{base}/{first['seq']}/recall")
        assert recall.status_code == 200, recall.text
        assert (recall.json()["seq"], recall.json()["target"]["state"]) == (5, "recalled")
        assert (await b_conn.event("change"))["kind"] == "recall"
        again = a.post(f"{base}/{first['seq']}/recall")
        assert (again.status_code, again.json()["duplicate"], again.json()["seq"]) == (
            200, True, 5)
        # Refusals.
        assert error_of(a.post(f"{base}/{theirs['seq']}/recall")) == (403, 10013)
        assert error_of(a.post(f"{base}/{theirs['seq']}/edit",
                               json={"elements": text("x")})) == (403, 10013)
        assert error_of(a.post(f"{base}/77/recall")) == (404, 20022)
        assert error_of(a.post(f"{base}/0/recall")) == (400, 10002)
        assert error_of(a.post(f"{base}/abc/recall")) == (400, 10002)
        assert error_of(a.post(f"{base}/{first['seq']}/edit",
                               json={"elements": text("x")})) == (409, 20023)
        assert error_of(a.post(f"{base}/{second['seq']}/edit", json={})) == (400, 10002)
        assert error_of(a.post(f"{base}/{second['seq']}/edit",
                               json={"elements": [{"type": "text"}]})) == (400, 90002)
        assert error_of(a.post(f"{base}/{second['seq']}/edit",
                               json={"cloud_custom_data": "x" * 20000})) == (413, 80002)
        assert error_of(a.post(f"{base}/{second['seq']}/edit", content=b"{",
                               headers={"content-type": "application/json"})) == (400, 90001)
        shown = history(b, f"/v1/conversations/c2c_{alice}/messages")
        assert [(m["seq"], m["state"], m["elements"]) for m in shown] == [
            (1, "recalled", []), (2, "edited", text("second!")), (3, "normal", text("from bob"))]
        assert states(b)[f"c2c_{alice}"]["last_seq"] == 5
    await b_conn.close()


# -- the admin's recall and edit -------------------------------------------------------


async def test_admin_recall_any_message_and_the_content_is_gone(
        make_server: MakeServer) -> None:
    server = make_server(recall_window="1")
    app = server.create_app()
    a_conn = await Conn.login(server, app, "alice")
    b_conn = await Conn.login(server, app, "bob")
    marker = f"secret-{uuid.uuid4().hex}"
    with server.http(app, "alice") as a, admin(server, app) as http:
        sent = send(a, "bob", f"the code is {marker}", cloud_custom_data=f"{marker} " * 60)
        await b_conn.event("message")
        for i in range(3):  # neighbours on the page, so that it is not rebuilt
            send(a, "bob", f"filler {i}", cloud_custom_data="f" * 700)
            await b_conn.event("message")
        if not server.database_url:
            checkpoint(server)  # the content is in the main file, not only in the log
            assert marker.encode() in raw_bytes(server)
        edited = http.post(f"/v1/admin/messages/{sent['msg_id']}/edit",
                           json={"elements": text(f"edited {marker}")})
        assert edited.status_code == 200, edited.text
        assert edited.json()["by"] == "admin"
        # Past the sender's window: the sender may not, the admin may.
        deadline = time.monotonic() + 10
        while (await a_conn.request("ping"))["data"]["server_time"] <= sent["time"] + 1000:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert error_of(a.post(f"/v1/conversations/c2c_bob/messages/{sent['seq']}/recall")) \
            == (403, 20016)
        recall = http.post(f"/v1/admin/messages/{sent['msg_id']}/recall")
        assert recall.status_code == 200, recall.text
        body = recall.json()
        assert (body["kind"], body["by"], body["seq"], body["target_seq"]) == (
            "recall", "admin", 6, 1)
        for conn in (a_conn, b_conn):
            got = await conn.event("change")
            if got["kind"] == "edit":
                got = await conn.event("change")
            assert (got["kind"], got["by"], got["target"]["state"]) == ("recall", "admin",
                                                                         "recalled")
        again = http.post(f"/v1/admin/messages/{sent['msg_id']}/recall")
        assert (again.status_code, again.json()["duplicate"]) == (200, True)
        assert error_of(http.post(f"/v1/admin/messages/{sent['msg_id']}/edit",
                                  json={"cloud_custom_data": "x"})) == (409, 20023)
    rows = await db_rows(server, "SELECT seq, kind, target_seq, elements, cloud_custom_data, state,"
                           " changed_by FROM messages WHERE seq IN (1, 5, 6) ORDER BY seq")
    assert rows == [(1, 0, None, "[]", "", 2, "admin:user:administrator"),
                    (5, 2, 1, "[]", "", 0, "admin:user:administrator"),
                    (6, 1, 1, "[]", "", 0, "admin:user:administrator")]
    if not server.database_url:
        # Not only hidden: the bytes are gone from the files. (PostgreSQL
        # keeps dead row versions until VACUUM: docs/schema.md.)
        checkpoint(server)
        assert marker.encode() not in raw_bytes(server)
    await a_conn.close()
    await b_conn.close()


def test_admin_changes_refused(server: Server, shared_app: App, other_app: App,
                               users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    with server.http(shared_app, alice) as a, admin(server, shared_app) as http, \
            admin(server, other_app) as other:
        sent = send(a, bob, "hello", cloud_custom_data="c" * 12000)
        msg_id = sent["msg_id"]
        conv_number = msg_id.split("-")[0]
        refusals = [
            (other.post(f"/v1/admin/messages/{msg_id}/recall"), (404, 20022)),
            (other.post(f"/v1/admin/messages/{msg_id}/edit", json={"elements": text("x")}),
             (404, 20022)),
            (http.post(f"/v1/admin/messages/{conv_number}-99/recall"), (404, 20022)),
            (http.post("/v1/admin/messages/999999999-1/recall"), (404, 20022)),
            (http.post(f"/v1/admin/messages/{conv_number}-2/recall"), (404, 20022)),
            (http.post("/v1/admin/messages/nope/recall"), (400, 90054)),
            (http.post(f"/v1/admin/messages/{conv_number}-0/recall"), (400, 90054)),
            (http.post(f"/v1/admin/messages/{conv_number}--1/recall"), (400, 90054)),
            (http.post(f"/v1/admin/messages/{conv_number}-99999999999999999999/recall"),
             (400, 90054)),
            (http.post(f"/v1/admin/messages/{msg_id}/edit", json={}), (400, 10002)),
            (http.post(f"/v1/admin/messages/{msg_id}/edit", json={"elements": "x"}),
             (400, 90002)),
            (http.post(f"/v1/admin/messages/{msg_id}/edit", json={"elements": text("x"),
                                                                  "y": 1}), (400, 10002)),
            (http.post(f"/v1/admin/messages/{msg_id}/edit",
                       json={"elements": text("y" * 400)}), (413, 80002)),
            (httpx.post(f"{server.base_url}/v1/admin/messages/{msg_id}/recall"), (401, 70002)),
            (a.post(f"/v1/admin/messages/{msg_id}/recall"), (403, 90009)),
        ]
        for reply, expected in refusals:
            assert error_of(reply) == expected, reply.text
        [shown] = history(a, f"/v1/conversations/c2c_{bob}/messages")
        assert (shown["state"], shown["elements"], shown["change_seq"]) == (
            "normal", text("hello"), 0)
        assert states(a)[f"c2c_{bob}"]["last_seq"] == 1


# -- import ----------------------------------------------------------------------------


async def test_import_with_original_times(server: Server, shared_app: App,
                                          users: Users) -> None:
    alice, bob = users("alice"), users("bob")
    b_conn = await Conn.login(server, shared_app, bob)
    old = 1_700_000_000_000
    with admin(server, shared_app) as http, server.http(shared_app, bob) as b:

        def imported(client_msg_id: str, at: int, t: str, **extra: Any) -> httpx.Response:
            return http.post("/v1/admin/messages/import", json={
                "from": alice, "conversation_id": f"c2c_{bob}", "client_msg_id": client_msg_id,
                "time": at, "elements": text(t), **extra})

        # Into a new conversation: it starts at the imported time.
        first = imported("legacy-1", old, "from the old system")
        assert first.status_code == 200, first.text
        assert (first.json()["seq"], first.json()["time"], first.json()["duplicate"]) == (
            1, old, False)
        state = states(b)[f"c2c_{alice}"]
        assert (state["last_time"], state["unread"], state["last_message"]["seq"]) == (old, 0, 1)
        assert state["last_message"]["imported"] == "history"
        # Idempotent by client id, like a send.
        repeat = imported("legacy-1", old + 5, "again")
        assert (repeat.json()["seq"], repeat.json()["duplicate"]) == (1, True)
        live = await b_conn.event("message")  # in the stream, marked as an import
        assert (live["seq"], live["imported"], live["time"]) == (1, "history", old)
        # A live message, then an older import: it takes the next seq, but
        # neither the conversation's time nor its last message change.
        now_sent = send(b, alice, "hi alice")
        second = imported("legacy-2", old + 1000, "older than hi")
        assert second.json()["seq"] == 3
        state = states(b)[f"c2c_{alice}"]
        assert (state["last_seq"], state["last_time"], state["last_message"]["seq"]) == (
            3, now_sent["time"], 2)
        assert state["unread"] == 0
        # Realtime import counts as unread for the peer; history imports not.
        third = imported("legacy-3", int(time.time() * 1000), "realtime one", mode="realtime")
        assert third.json()["seq"] == 4
        assert unread(http, bob) == {"user_id": bob, "total": 1, "conversations": [
            {"conversation_id": f"c2c_{alice}", "unread": 1}]}
        # As a send does, it moved its sender's cursor (past bob's "hi alice").
        assert unread(http, alice)["total"] == 0
        shown = history(b, f"/v1/conversations/c2c_{alice}/messages")
        assert [(m["seq"], m["time"], m["imported"]) for m in shown] == [
            (1, old, "history"), (2, now_sent["time"], None), (3, old + 1000, "history"),
            (4, third.json()["time"], "realtime")]
        # Bad imports change nothing.
        future = int(time.time() * 1000) + 3_600_000
        assert error_of(imported("legacy-4", future, "from the future")) == (400, 10002)
        assert error_of(imported("legacy-4", 0, "at zero")) == (400, 10002)
        assert error_of(imported("legacy-4", old, "x", mode="sometimes")) == (400, 10002)
        assert error_of(http.post("/v1/admin/messages/import", json={
            "from": alice, "conversation_id": f"c2c_{bob}", "client_msg_id": "legacy-4",
            "elements": text("no time")})) == (400, 10002)
        assert states(b)[f"c2c_{alice}"]["last_seq"] == 4
    await b_conn.close()


# -- unread counts ---------------------------------------------------------------------


async def test_unread_counts(server: Server, shared_app: App, other_app: App,
                             users: Users) -> None:
    alice, bob, carol = users("alice"), users("bob"), users("carol")
    with server.http(shared_app, alice) as a, server.http(shared_app, bob) as b, \
            server.http(shared_app, carol) as c, admin(server, shared_app) as http:
        for i in range(3):
            send(a, bob, f"a{i}")
        send(c, bob, "c0")
        mine = send(b, carol, "own message")  # reads carol's conversation to here
        send(c, bob, "c1")
        assert unread(http, bob) == {"user_id": bob, "total": 4, "conversations": [
            {"conversation_id": f"c2c_{carol}", "unread": 1},
            {"conversation_id": f"c2c_{alice}", "unread": 3}]}
        # Changes are entries of the stream but never unread; a recalled
        # message still counts (the reader sees that something was recalled).
        base = f"/v1/conversations/c2c_{bob}/messages"
        assert a.post(f"{base}/1/edit", json={"elements": text("a0!")}).status_code == 200
        assert a.post(f"{base}/2/recall").status_code == 200
        assert b.post(f"/v1/conversations/c2c_{carol}/messages/{mine['seq']}/edit",
                      json={"cloud_custom_data": "x"}).status_code == 200
        listed = states(b)
        assert (listed[f"c2c_{alice}"]["last_seq"], listed[f"c2c_{alice}"]["unread"]) == (5, 3)
        assert (listed[f"c2c_{carol}"]["last_seq"], listed[f"c2c_{carol}"]["unread"]) == (4, 1)
        assert unread(http, bob)["total"] == 4
        # The change's author sees no unread either.
        assert unread(http, alice)["total"] == 0
        assert states(a)[f"c2c_{bob}"]["unread"] == 0
        # Reading up to a seq counts what comes after it.
        read = b.post(f"/v1/conversations/c2c_{alice}/read", json={"seq": 1})
        assert read.json() == {"conversation_id": f"c2c_{alice}", "read_seq": 1, "unread": 2}
        read = b.post(f"/v1/conversations/c2c_{alice}/read")
        assert read.json() == {"conversation_id": f"c2c_{alice}", "read_seq": 5, "unread": 0}
        # A change after the cursor does not make anything unread.
        assert a.post(f"{base}/3/recall").status_code == 200
        assert states(b)[f"c2c_{alice}"]["unread"] == 0
        # For given peers: exactly those, unknown ones with 0; the total stays.
        got = unread(http, bob, peer=[carol, alice, "nobody-here", carol])
        assert got == {"user_id": bob, "total": 1, "conversations": [
            {"conversation_id": f"c2c_{carol}", "unread": 1},
            {"conversation_id": f"c2c_{alice}", "unread": 0},
            {"conversation_id": "c2c_nobody-here", "unread": 0}]}
        assert unread(http, "nobody-at-all") == {"user_id": "nobody-at-all", "total": 0,
                                                 "conversations": []}
        assert error_of(http.get(f"/v1/admin/users/{bob}/unread",
                                 params={"peer": "x" * 40})) == (400, 10008)
        assert error_of(http.get(f"/v1/admin/users/{bob}/unread",
                                 params={"peer": [f"p{i}" for i in range(101)]})) == (400, 10002)
    with admin(server, other_app) as other:
        assert unread(other, bob)["total"] == 0


# -- durability ------------------------------------------------------------------------


@pytest.mark.process_server("kill -9: only a process can be killed mid-write")
async def test_acked_recall_survives_kill_9(make_server: MakeServer) -> None:
    server = make_server()
    app = server.create_app()
    with server.http(app, "alice") as a:
        sent = [send(a, "bob", f"m{i}") for i in range(3)]
        recall = a.post(f"/v1/conversations/c2c_bob/messages/{sent[1]['seq']}/recall")
        edit = a.post(f"/v1/conversations/c2c_bob/messages/{sent[2]['seq']}/edit",
                      json={"elements": text("m2!")})
        assert recall.status_code == edit.status_code == 200
    server.kill9()
    server.start()
    with server.http(app, "bob") as b:
        shown = history(b, "/v1/conversations/c2c_alice/messages")
        assert [(m["seq"], m["state"], m["elements"]) for m in shown] == [
            (1, "normal", text("m0")), (2, "recalled", []), (3, "edited", text("m2!"))]
        # The stream goes on after the changes, with no seq reused.
        assert states(b)["c2c_alice"]["last_seq"] == 5
        assert send(b, "alice", "after")["seq"] == 6
    device = await Conn.login(server, app, "bob", known={"c2c_alice": 3})
    assert [(e["seq"], e["kind"]) for e in device.last_sync["messages"]] == [
        (4, "recall"), (5, "edit"), (6, "message")]
    await device.close()


def test_openapi_describes_the_change_endpoints(server: Server) -> None:
    spec = openapi_doc(server.base_url)
    for path in ("/v1/admin/messages/{msg_id}/recall", "/v1/admin/messages/{msg_id}/edit",
                 "/v1/admin/messages/import", "/v1/admin/users/{user_id}/unread",
                 "/v1/conversations/{conversation_id}/messages/{seq}/recall",
                 "/v1/conversations/{conversation_id}/messages/{seq}/edit"):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    for name in ("AdminImportRequest", "EditRequest", "ChangeAck", "UnreadOut"):
        assert schemas[name]["examples"], name
