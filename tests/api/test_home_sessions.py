"""Home sign-in sessions: sign-out revokes one UserSig (REST, login, and the
socket logged in with it), sign-out everywhere revokes all, and a password
change signs out every other session."""

from __future__ import annotations

from typing import Any

import httpx

from tests.home_support import (
    bearer,
    call,
    connect,
    home_server,
    mailbox,
    ok,
    register,
    sign_in,
    unique,
    webhook,
)
from tests.support import Conn, Server, error_of

__all__ = ["home_server", "mailbox", "webhook"]


async def _login_error(server: Server, signed_in: dict[str, Any]) -> int:
    conn = await Conn.open(server)
    try:
        reply = await conn.request("login", {"sdkappid": signed_in["sdkappid"],
                                             "user_id": signed_in["user_id"],
                                             "usersig": signed_in["usersig"]})
        assert not reply["ok"], reply
        return int(reply["error"]["code"])
    finally:
        await conn.close()


def _me(server: Server, signed_in: dict[str, Any]) -> httpx.Response:
    return httpx.get(f"{server.base_url}/v1/home/me", headers=bearer(signed_in))


async def test_sign_out_revokes_that_ticket_only(home_server: Server) -> None:
    server = home_server
    name = unique("kim")
    phone = register(server, name)
    laptop = ok(sign_in(server, name))
    on_phone = await connect(server, phone)
    on_laptop = await connect(server, laptop)
    try:
        out = ok(call(server, "POST", "/v1/home/sign-out", phone))
        assert out == {"signed_out": True, "sessions_closed": 1}
        assert (await on_phone.closed)[0] == 4005
        assert error_of(_me(server, phone)) == (401, 70052)
        assert error_of(call(server, "GET", "/v1/profile", phone)) == (401, 70052)
        assert await _login_error(server, phone) == 70052
        # Signing out again is refused the same way: the ticket is dead.
        assert error_of(call(server, "POST", "/v1/home/sign-out", phone)) == (401, 70052)
        # The other session carries on, socket and REST.
        ok(_me(server, laptop))
        assert (await on_laptop.request("ping"))["ok"]
    finally:
        await on_phone.close()
        await on_laptop.close()


async def test_sign_out_everywhere(home_server: Server) -> None:
    server = home_server
    name = unique("lea")
    first = register(server, name)
    second = ok(sign_in(server, name))
    conns = [await connect(server, first), await connect(server, second)]
    try:
        out = ok(call(server, "POST", "/v1/home/sign-out-everywhere", first))
        assert out == {"signed_out": True, "sessions_closed": 2}
        for conn in conns:
            assert (await conn.closed)[0] == 4005
        for ticket in (first, second):
            assert error_of(_me(server, ticket)) == (401, 70052)
            assert await _login_error(server, ticket) == 70052
        # A new sign-in works at once (even within the same second).
        fresh = ok(sign_in(server, name))
        ok(_me(server, fresh))
        conn = await connect(server, fresh)
        await conn.close()
    finally:
        for conn in conns:
            await conn.close()


async def test_password_change_signs_out_the_other_sessions(home_server: Server) -> None:
    server = home_server
    name = unique("max")
    here = register(server, name)
    there = ok(sign_in(server, name))
    there_conn = await connect(server, there)
    url = "/v1/home/password"
    try:
        assert error_of(call(server, "POST", url, here, {
            "current_password": "not it at all", "new_password": "brand new pass"})) == (
            401, 96000)
        assert error_of(call(server, "POST", url, here, {
            "new_password": "brand new pass"})) == (400, 10002)
        assert error_of(call(server, "POST", url, here, {
            "current_password": "correct horse 1", "new_password": "tiny"})) == (400, 96004)
        ok(_me(server, there))  # refusals changed nothing
        changed = ok(call(server, "POST", url, here, {
            "current_password": "correct horse 1", "new_password": "brand new pass"}))
        assert changed == {"changed": True, "sessions_signed_out": 1, "sessions_closed": 1}
        assert (await there_conn.closed)[0] == 4005
        assert error_of(_me(server, there)) == (401, 70052)
        ok(_me(server, here))
        assert error_of(sign_in(server, name, "correct horse 1")) == (401, 96000)
        ok(sign_in(server, name, "brand new pass"))
    finally:
        await there_conn.close()


async def test_sessions_are_listed_and_one_is_signed_out(home_server: Server) -> None:
    server = home_server
    name, other = unique("nia"), register(server, unique("oto"))
    laptop = register(server, name)
    phone = ok(sign_in(server, name))
    on_phone = await connect(server, phone)
    try:
        listed = ok(call(server, "GET", "/v1/home/sessions", laptop))["sessions"]
        assert {s["session_id"]: s["current"] for s in listed} == {
            phone["session_id"]: False, laptop["session_id"]: True}
        assert listed[0]["created_at"] >= listed[1]["created_at"]  # newest first
        assert {s["method"] for s in listed} == {"password"}
        assert all(s["expires_at"] > s["created_at"] > 0 for s in listed)
        # Another account's session, and an unknown id, are not found; nothing changes.
        for bad in (other["session_id"], "0" * 32):
            assert error_of(call(server, "DELETE", f"/v1/home/sessions/{bad}", laptop))[0] == 404
        ok(_me(server, other))
        out = ok(call(server, "DELETE", f"/v1/home/sessions/{phone['session_id']}", laptop))
        assert out == {"signed_out": True, "sessions_closed": 1}
        assert (await on_phone.closed)[0] == 4005
        assert error_of(_me(server, phone)) == (401, 70052)
        listed = ok(call(server, "GET", "/v1/home/sessions", laptop))["sessions"]
        assert [s["session_id"] for s in listed] == [laptop["session_id"]]
        # Signing it out again: it is no longer live.
        assert error_of(call(server, "DELETE", f"/v1/home/sessions/{phone['session_id']}",
                             laptop))[0] == 404
    finally:
        await on_phone.close()
