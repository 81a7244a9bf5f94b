"""Logging in, on REST and on the socket: every kind of bad ticket is refused
with its own stable code, a refusal on the socket leaves the connection
usable, apps never see each other's data, and keys rotate without downtime."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support import App, Conn, Server
from tidings.domain import usersig

Users = Callable[[str], str]


def rest_error(server: Server, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    reply = httpx.get(f"{server.base_url}/v1/conversations", headers=headers)
    body = reply.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "name", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return reply.status_code, body["error"]


def bearer(ticket: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ticket}"}


def expired_ticket(app: App, user: str) -> str:
    return usersig.sign(app.sdkappid, app.secret_key, user, 60, now=int(time.time()) - 3600)


# -- REST --------------------------------------------------------------------


def test_rest_refusals(server: Server, shared_app: App, users: Users) -> None:
    alice = users("alice")
    cases: list[tuple[dict[str, str], int, str]] = [
        ({}, 70002, "usersig_missing"),
        ({"Authorization": "Bearer"}, 70002, "usersig_missing"),
        ({"Authorization": f"Basic {shared_app.sig(alice)}"}, 70002, "usersig_missing"),
        (bearer("definitely-not-a-ticket"), 70003, "usersig_invalid"),
        (bearer(shared_app.sig(alice)[:-8]), 70003, "usersig_invalid"),
        (bearer(expired_ticket(shared_app, alice)), 70001, "usersig_expired"),
        (bearer(usersig.sign(shared_app.sdkappid, secrets.token_hex(32), alice)), 70009,
         "usersig_bad_signature"),
        (bearer(usersig.sign(999, shared_app.secret_key, alice)), 70020, "app_not_found"),
    ]
    for headers, code, name in cases:
        status, error = rest_error(server, headers)
        assert (status, error["code"], error["name"]) == (401, code, name), headers
    # The same refusals guard writes, and nothing is stored.
    reply = httpx.post(f"{server.base_url}/v1/messages",
                       headers=bearer(expired_ticket(shared_app, alice)),
                       json={"conversation_id": "c2c_bob", "client_msg_id": "x",
                             "elements": [{"type": "text", "text": "hi"}]})
    assert reply.status_code == 401 and reply.json()["error"]["code"] == 70001
    with server.http(shared_app, alice) as http:
        assert http.get("/v1/conversations").json() == {"conversations": []}


def test_user_id_over_32_bytes_is_refused(server: Server, shared_app: App) -> None:
    for long_id in ("x" * 33, "é" * 17, "用" * 11):
        assert len(long_id.encode()) > 32
        status, error = rest_error(server, bearer(shared_app.sig(long_id)))
        assert status == 400 and error["code"] == 10008
    # 32 bytes exactly is fine.
    ok = httpx.get(f"{server.base_url}/v1/conversations",
                   headers=bearer(shared_app.sig("é" * 16)))
    assert ok.status_code == 200


def test_app_cannot_read_or_write_another_apps_data(server: Server, shared_app: App,
                                                    other_app: App, users: Users) -> None:
    shop, game = shared_app, other_app
    alice, bob = users("alice"), users("bob")
    with server.http(game, alice) as g:
        assert g.post("/v1/messages", json={
            "conversation_id": f"c2c_{bob}", "client_msg_id": "g-1",
            "elements": [{"type": "text", "text": "game secret"}]}).status_code == 200
    # The same user ids in another app see nothing of it.
    with server.http(shop, bob) as s:
        assert s.get("/v1/conversations").json() == {"conversations": []}
        assert s.get(f"/v1/conversations/c2c_{alice}/messages").json() == {
            "messages": [], "more": False}
        read = s.post(f"/v1/conversations/c2c_{alice}/read")
        assert read.status_code == 200 and read.json()["read_seq"] == 0
    # A ticket that names the other app but was signed with this app's key.
    forged = usersig.sign(game.sdkappid, shop.secret_key, bob)
    status, error = rest_error(server, bearer(forged))
    assert (status, error["code"]) == (401, 70009)
    # And the game's own user still sees it.
    with server.http(game, bob) as g:
        found = g.get("/v1/conversations").json()["conversations"]
        assert [c["last_message"]["elements"][0]["text"] for c in found] == ["game secret"]


# -- the socket ----------------------------------------------------------------


def login_data(app: App, user: str, ticket: str | None = None, **over: Any) -> dict[str, Any]:
    data = {"sdkappid": app.sdkappid, "user_id": user,
            "usersig": app.sig(user) if ticket is None else ticket}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


async def test_socket_refusals_leave_the_connection_usable(server: Server, shared_app: App,
                                                           users: Users) -> None:
    alice = users("alice")
    conn = await Conn.open(server)
    # Nothing but login (and ping) works before logging in.
    early = await conn.request("conversations", {})
    assert early["ok"] is False and early["error"]["code"] == 10003
    wrong_key = usersig.sign(shared_app.sdkappid, secrets.token_hex(32), alice)
    unknown_app = usersig.sign(999, shared_app.secret_key, alice)
    cases: list[tuple[dict[str, Any], int]] = [
        (login_data(shared_app, alice, expired_ticket(shared_app, alice)), 70001),
        (login_data(shared_app, alice, "garbage!"), 70003),
        (login_data(shared_app, alice, shared_app.sig(alice)[5:]), 70003),
        (login_data(shared_app, alice, ""), 70002),
        (login_data(shared_app, alice, usersig=None), 70002),
        (login_data(shared_app, alice, wrong_key), 70009),
        (login_data(shared_app, alice, shared_app.sig(users("bob"))), 70013),
        (login_data(shared_app, alice, sdkappid=shared_app.sdkappid + 1), 70014),
        (login_data(shared_app, alice, unknown_app, sdkappid=999), 70020),
    ]
    for data, code in cases:
        reply = await conn.request("login", data)
        assert reply["ok"] is False, (data, reply)
        assert reply["error"]["code"] == code, (data, reply)
        assert isinstance(reply["error"]["name"], str) and reply["error"]["message"]
        assert not conn.closed.done()
        still = await conn.request("conversations", {})
        assert still["error"]["code"] == 10003  # a refusal logs nobody in
    good = await conn.request("login", login_data(shared_app, alice))
    assert good["ok"] is True, good
    assert good["data"]["max_message_bytes"] == 12 * 1024
    # The change windows, so that a client offers only what the server allows.
    assert (good["data"]["recall_window"], good["data"]["edit_window"]) == (120.0, 0.0)
    listed = await conn.request("conversations", {})
    assert listed["ok"] and listed["data"] == {"conversations": []}
    again = await conn.request("login", login_data(shared_app, alice))
    assert again["ok"] is False and again["error"]["code"] == 10004
    await conn.close()


async def test_socket_refuses_user_id_over_32_bytes(server: Server, shared_app: App) -> None:
    conn = await Conn.open(server)
    for long_id in ("x" * 33, "用" * 11):
        reply = await conn.request("login", login_data(shared_app, long_id))
        assert reply["ok"] is False and reply["error"]["code"] == 10008
    reply = await conn.request("login", login_data(shared_app, "用" * 10))
    assert reply["ok"] is True
    await conn.close()


async def test_socket_session_sees_only_its_app(server: Server, shared_app: App,
                                                other_app: App, users: Users) -> None:
    shop, game = shared_app, other_app
    alice, bob = users("alice"), users("bob")
    game_bob = await Conn.login(server, game, bob)
    shop_bob = await Conn.login(server, shop, bob)
    shop_alice = await Conn.login(server, shop, alice)
    sent = await shop_alice.send_text(f"c2c_{bob}", "for shop bob")
    assert sent["ok"]
    assert (await shop_bob.event("message"))["msg_id"] == sent["data"]["msg_id"]
    await game_bob.no_event("message")
    page = await game_bob.request("history", {"conversation_id": f"c2c_{alice}"})
    assert page["data"] == {"messages": [], "more": False}
    for c in (game_bob, shop_bob, shop_alice):
        await c.close()


# -- key rotation ----------------------------------------------------------------


def accepted(server: Server, ticket: str) -> bool:
    reply = httpx.get(f"{server.base_url}/v1/conversations", headers=bearer(ticket))
    if reply.status_code == 200:
        return True
    assert reply.status_code == 401 and reply.json()["error"]["code"] == 70009, reply.text
    return False


async def socket_login(server: Server, app: App, user: str, ticket: str) -> dict[str, Any]:
    conn = await Conn.open(server)
    try:
        return await conn.request("login", login_data(app, user, ticket))
    finally:
        await conn.close()


async def test_rotate_key_keeps_old_tickets_until_retired(server: Server, app: App) -> None:
    old_ticket = app.sig("alice")
    assert accepted(server, old_ticket)  # the server now caches the app
    rotated = json.loads(server.cli("app", "rotate-key", str(app.sdkappid)).stdout)
    assert rotated["sdkappid"] == app.sdkappid
    new_key = rotated["secret_key"]
    assert len(new_key) == 64 and new_key != app.secret_key
    new_app = App(app.sdkappid, new_key, app.admin)
    # A key added a moment ago works at once, cache or not; the old one too.
    assert accepted(server, new_app.sig("alice"))
    assert accepted(server, old_ticket)
    assert (await socket_login(server, app, "bob", new_app.sig("bob")))["ok"]
    assert (await socket_login(server, app, "bob", app.sig("bob")))["ok"]
    # The CLI signs with the newest key.
    cli_ticket = server.cli("usersig", "--sdkappid", str(app.sdkappid), "--user", "carol"
                            ).stdout.strip()
    usersig.verify(usersig.parse(cli_ticket), [new_key])

    retired = json.loads(server.cli("app", "rotate-key", str(app.sdkappid), "--retire-old"
                                    ).stdout)
    assert retired == {"sdkappid": app.sdkappid, "retired": 1}
    # The running server stops trusting the old key within its cache TTL (2 s).
    deadline = time.monotonic() + 6
    while accepted(server, old_ticket):
        assert time.monotonic() < deadline, "a retired key still works"
        await asyncio.sleep(0.2)
    assert not accepted(server, app.sig("dave"))
    refused = await socket_login(server, app, "bob", app.sig("bob"))
    assert refused["ok"] is False and refused["error"]["code"] == 70009
    assert accepted(server, new_app.sig("alice"))
    assert (await socket_login(server, app, "bob", new_app.sig("bob")))["ok"]
    shown = json.loads(server.cli("app", "show", str(app.sdkappid)).stdout)
    old, new = shown["keys"]
    assert old["retired_at"] is not None and new["retired_at"] is None
