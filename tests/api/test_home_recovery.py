"""Password reset by a code to a verified address (same answer for unknown
addresses, and no mail then; every session ends; the lock-out is cleared)
and the owner's deletion of a home account (password, or a code for
accounts without one; links to app identities go with it)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from TLSSigAPIv2 import TLSSigAPIv2

from tests.app_server import AppServer, Reply
from tests.home_support import (
    Mailbox,
    call,
    connect,
    home_server,
    mailbox,
    ok,
    register,
    sign_in,
    smtp_env,
    unique,
    webhook,
    webhook_code,
)
from tests.support import App, Conn, Server, error_of
from tidings.domain import link_tickets
from tidings.domain.clock import now_ms

__all__ = ["home_server", "mailbox", "webhook"]

PASSWORD = "correct horse 1"


def _email() -> str:
    return f"{unique('r')}@mail.test"


def _ask_reset(server: Server, address: str, channel: str = "email") -> httpx.Response:
    return call(server, "POST", "/v1/home/password-reset/codes", None,
                 {"channel": channel, "address": address})


def _reset(server: Server, address: str, code: str, new_password: str) -> httpx.Response:
    return call(server, "POST", "/v1/home/password-reset", None,
                 {"channel": "email", "address": address, "code": code,
                  "new_password": new_password})


def _with_email(server: Server, mailbox: Mailbox, who: dict[str, Any]) -> str:
    """Attach a fresh e-mail address to the account (the attach flow)."""
    address = _email()
    ok(call(server, "POST", "/v1/home/addresses/codes", who,
             {"channel": "email", "address": address}))
    ok(call(server, "POST", "/v1/home/addresses", who,
             {"channel": "email", "address": address, "code": mailbox.wait_code(address)}))
    return address


def _code_account(server: Server, mailbox: Mailbox) -> tuple[dict[str, Any], str]:
    address = _email()
    ok(call(server, "POST", "/v1/home/codes", None, {"channel": "email", "address": address}))
    signed_in = ok(call(server, "POST", "/v1/home/sign-in/code", None, {
        "channel": "email", "address": address, "code": mailbox.wait_code(address)}))
    return signed_in, address


# -- password reset ----------------------------------------------------------------


async def test_reset_signs_out_everywhere_and_signs_in(home_server: Server,
                                                       mailbox: Mailbox) -> None:
    server = home_server
    name = unique("rex")
    first = register(server, name)
    address = _with_email(server, mailbox, first)
    second = ok(sign_in(server, name))
    sockets = [await connect(server, first), await connect(server, second)]
    try:
        asked = ok(_ask_reset(server, " " + address.upper()))
        assert asked == {"sent": True, "expires_in": 600, "resend_after": 0}
        code = mailbox.wait_code(address, 2)
        assert mailbox.to(address)[1]["Subject"] == f"{code} is your Tidings password reset code"
        fresh = ok(_reset(server, address, code, "a brand new one"))
        assert fresh["user_id"] == first["user_id"] and fresh["created"] is False
        assert fresh["session_id"] not in (first["session_id"], second["session_id"])
        for conn in sockets:
            assert (await conn.closed)[0] == 4005
        for old in (first, second):
            assert error_of(call(server, "GET", "/v1/home/me", old))[0] == 401
        assert ok(call(server, "GET", "/v1/home/me", fresh))["email"] == address
        conn = await connect(server, fresh)
        await conn.close()
        assert error_of(sign_in(server, name, PASSWORD)) == (401, 96000)
        ok(sign_in(server, name, "a brand new one"))
        # The code worked once.
        assert error_of(_reset(server, address, code, "yet another one")) == (401, 96002)
    finally:
        for conn in sockets:
            await conn.close()


def test_reset_for_an_unknown_address_answers_alike_and_sends_nothing(
        home_server: Server, mailbox: Mailbox) -> None:
    server = home_server
    known_account = register(server, unique("kay"))
    known = _with_email(server, mailbox, known_account)
    unknown = _email()
    answers = [_ask_reset(server, known), _ask_reset(server, unknown)]
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].content == answers[1].content
    code = mailbox.wait_code(known, 2)
    time.sleep(1)  # the known address's mail came; the other would have by now
    assert mailbox.to(unknown) == []
    # No code reached anyone for the unknown address: every guess is wrong.
    assert error_of(_reset(server, unknown, code, "whatever it is")) == (401, 96002)
    assert error_of(_code_sign_in(server, unknown, code)) == (401, 96002)
    # Bad input.
    assert error_of(_ask_reset(server, "no-at-sign")) == (400, 96005)
    assert error_of(_ask_reset(server, "+0123", "phone")) == (400, 96005)
    assert error_of(call(server, "POST", "/v1/home/password-reset", None,
                          {"channel": "email", "address": known})) == (400, 10002)


def _code_sign_in(server: Server, address: str, code: str) -> httpx.Response:
    return call(server, "POST", "/v1/home/sign-in/code", None,
                 {"channel": "email", "address": address, "code": code})


def test_reset_refusals_change_nothing(home_server: Server, mailbox: Mailbox) -> None:
    server = home_server
    name = unique("ria")
    ria = register(server, name)
    address = _with_email(server, mailbox, ria)
    # A sign-in code does not reset, a reset code does not sign in.
    ok(call(server, "POST", "/v1/home/codes", None, {"channel": "email", "address": address}))
    sign_in_code = mailbox.wait_code(address, 2)
    assert error_of(_reset(server, address, sign_in_code, "new password 1")) == (401, 96002)
    ok(_ask_reset(server, address))
    code = mailbox.wait_code(address, 3)
    assert error_of(_code_sign_in(server, address, code)) == (401, 96002)
    # Too short: refused before the code is looked at (it says nothing of anyone).
    assert error_of(_reset(server, address, code, "short")) == (400, 96004)
    # The username as the password: refused once the code proved the owner,
    # and the code is not spent by it.
    assert error_of(_reset(server, address, code, name)) == (400, 96004)
    ok(call(server, "GET", "/v1/home/me", ria))
    ok(sign_in(server, name, PASSWORD))
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert error_of(_reset(server, address, wrong, "new password 1")) == (401, 96002)
    assert error_of(_reset(server, address, "12a456", "new password 1")) == (401, 96002)
    ok(sign_in(server, name, PASSWORD))
    ok(call(server, "GET", "/v1/home/me", ria))
    # The right code still works, and the sign-in code is still good too.
    ok(_reset(server, address, code, "new password 1"))
    assert ok(_code_sign_in(server, address, sign_in_code))["user_id"] == ria["user_id"]


def test_reset_of_an_account_without_a_username(home_server: Server, mailbox: Mailbox
                                                ) -> None:
    server = home_server
    who, address = _code_account(server, mailbox)
    ok(_ask_reset(server, address))
    code = mailbox.wait_code(address, 2)
    assert error_of(_reset(server, address, code, "some password")) == (400, 10002)
    me = ok(call(server, "GET", "/v1/home/me", who))
    assert me["has_password"] is False
    # After choosing a username, the same code sets a first password.
    name = unique("nou")
    ok(call(server, "PATCH", "/v1/home/me", who, {"username": name}))
    ok(_reset(server, address, code, "some password"))
    ok(sign_in(server, name, "some password"))


def test_reset_clears_the_lock_out(home_server: Server, mailbox: Mailbox) -> None:
    server = home_server
    name = unique("lou")
    lou = register(server, name)
    address = _with_email(server, mailbox, lou)
    for _ in range(5):
        assert error_of(sign_in(server, name, "not the password"))[1] == 96000
    assert error_of(sign_in(server, name, PASSWORD)) == (429, 96001)
    ok(_ask_reset(server, address))
    ok(_reset(server, address, mailbox.wait_code(address, 2), "after the lock-out"))
    ok(sign_in(server, name, "after the lock-out"))


def test_reset_requests_share_the_code_limits(make_server: Callable[..., Server],
                                              mailbox: Mailbox) -> None:
    server = make_server(**smtp_env(mailbox), home_code_resend_after="0",
                         home_codes_per_address="2")
    address = _email()
    ok(call(server, "POST", "/v1/home/codes", None, {"channel": "email", "address": address}))
    ok(_ask_reset(server, address))
    # The third code to this address in the window, whatever its purpose.
    assert error_of(_ask_reset(server, address)) == (429, 10005)
    unknown = _email()
    ok(_ask_reset(server, unknown))
    ok(_ask_reset(server, unknown))
    assert error_of(_ask_reset(server, unknown)) == (429, 10005)
    gap = make_server(**smtp_env(mailbox), home_code_resend_after="60")
    ok(_ask_reset(gap, address))
    again = _ask_reset(gap, address)
    assert error_of(again) == (429, 10005) and 0 < again.json()["error"]["retry_after"] <= 60


def test_expired_codes_do_nothing(make_server: Callable[..., Server], mailbox: Mailbox
                                  ) -> None:
    server = make_server(**smtp_env(mailbox), home_code_lifetime="60",
                         home_code_resend_after="0")
    name = unique("exp")
    exp = register(server, name)
    address = _with_email(server, mailbox, exp)
    other = _email()
    ok(call(server, "POST", "/v1/home/addresses/codes", exp,
             {"channel": "email", "address": other}))
    ok(_ask_reset(server, address))
    attach_code = mailbox.wait_code(other)
    reset_code = mailbox.wait_code(address, 2)
    coded, coded_address = _code_account(server, mailbox)
    ok(call(server, "POST", "/v1/home/me/deletion-codes", coded, {"channel": "email"}))
    delete_code = mailbox.wait_code(coded_address, 2)
    # The three codes live the configured 60 s (the least allowed); then move
    # their end to the past rather than wait it out.
    lifetimes = "SELECT count(*) FROM home_codes WHERE expires_at - created_at = 60000"
    assert asyncio.run(server.sql(lifetimes)) == 3
    assert asyncio.run(server.sql(
        "UPDATE home_codes SET expires_at = :past", past=now_ms() - 1)) == 3
    assert error_of(call(server, "POST", "/v1/home/addresses", exp, {
        "channel": "email", "address": other, "code": attach_code})) == (401, 96002)
    assert error_of(_reset(server, address, reset_code, "too late now")) == (401, 96002)
    assert error_of(call(server, "DELETE", "/v1/home/me", coded, {
        "channel": "email", "code": delete_code})) == (401, 96002)
    assert ok(call(server, "GET", "/v1/home/me", exp))["email"] == address
    ok(sign_in(server, name, PASSWORD))
    ok(call(server, "GET", "/v1/home/me", coded))


def test_a_reset_answers_alike_when_the_sender_fails(home_server: Server,
                                                     webhook: AppServer) -> None:
    server = home_server
    number, unknown = (f"+4916{uuid.uuid4().int % 10**9:09d}" for _ in range(2))
    ok(call(server, "POST", "/v1/home/codes", None, {"channel": "phone", "address": number}))
    ok(call(server, "POST", "/v1/home/sign-in/code", None, {
        "channel": "phone", "address": number, "code": webhook_code(webhook, number)["code"]}))
    webhook.answer(lambda c: Reply(status=500 if c.doc.get("purpose") == "reset" else 200))
    try:
        answers = [_ask_reset(server, number, "phone"), _ask_reset(server, unknown, "phone")]
        assert answers[0].status_code == answers[1].status_code == 200
        assert answers[0].content == answers[1].content
        # The gateway was asked for the account's number only (and failed:
        # the server logs it, the answer could not tell).
        assert webhook_code(webhook, number, 2)["purpose"] == "reset"
        deadline = time.monotonic() + 10
        while "reset code not sent" not in server.log_tail() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "reset code not sent" in server.log_tail()
        assert not [c for c in webhook.calls if c.doc.get("to") == unknown]
        # A sign-in code is the person's own request: its failure is an error.
        webhook.answer(lambda c: Reply(status=500))
        assert error_of(call(server, "POST", "/v1/home/codes", None,
                             {"channel": "phone", "address": number})) == (503, 96007)
    finally:
        webhook.answer(lambda c: Reply())


# -- deletion ----------------------------------------------------------------------


def _link(server: Server, app: App, home_user: dict[str, Any], user: str,
          expire: int = 300) -> None:
    # Two tickets for one user signed within the same second are the same
    # bytes (the signed time is in seconds): a second link passes another
    # lifetime, or its ticket is refused as already used.
    ticket = str(TLSSigAPIv2(app.sdkappid, app.secret_key).gen_sig_with_userbuf(
        user, expire, link_tickets.LINK_PURPOSE))
    ok(call(server, "POST", "/v1/links", home_user,
             {"sdkappid": app.sdkappid, "ticket": ticket}))


def _linked(server: Server, app: App, user: str) -> bool:
    with server.http(app, app.admin) as admin:
        return bool(ok(admin.get(f"/v1/admin/links/{user}"))["linked"])


async def test_delete_with_the_password(home_server: Server) -> None:
    server = home_server
    shop = server.create_app("ShopX")
    carol, bob = f"carol{uuid.uuid4().hex[:6]}", f"bob{uuid.uuid4().hex[:6]}"
    with server.http(shop, shop.admin) as admin:
        ok(admin.post("/v1/admin/accounts/import",
                      json={"accounts": [{"user_id": carol}, {"user_id": bob}]}))
    name = unique("del")
    me = register(server, name)
    _link(server, shop, me, carol)
    device = await connect(server, me, sync=True)
    bob_shop = await Conn.login(server, shop, bob)
    try:
        # Refusals: nothing changes.
        assert error_of(call(server, "DELETE", "/v1/home/me", me,
                              {"password": "not the password"})) == (401, 96000)
        assert error_of(call(server, "DELETE", "/v1/home/me", me, {})) == (400, 10002)
        assert error_of(call(server, "DELETE", "/v1/home/me", me,
                              {"channel": "email", "code": "123456"})) == (400, 10002)
        assert error_of(call(server, "POST", "/v1/home/me/deletion-codes", me,
                              {"channel": "email"})) == (400, 10002)
        assert error_of(call(server, "DELETE", "/v1/home/me", None,
                              {"password": PASSWORD})) == (401, 70002)
        ok(call(server, "GET", "/v1/home/me", me))
        assert _linked(server, shop, carol)
        assert (await device.request("ping"))["ok"]
        # Relayed to the home device while linked.
        assert (await bob_shop.send_text(f"c2c_{carol}", "before"))["ok"]
        assert (await device.event("message"))["link"]["as"]["user_id"] == carol

        gone = ok(call(server, "DELETE", "/v1/home/me", me, {"password": PASSWORD}))
        assert gone == {"deleted": True, "links_removed": 1, "sessions_closed": 1}
        assert (await device.closed)[0] == 4007
        assert error_of(call(server, "GET", "/v1/home/me", me)) == (403, 70107)
        assert error_of(sign_in(server, name, PASSWORD)) == (401, 96000)
        assert not _linked(server, shop, carol)
        # The username is free, and carol can link to another home account,
        # which then gets what reaches carol.
        again = register(server, name)
        assert again["user_id"] != me["user_id"]
        _link(server, shop, again, carol, expire=301)
        new_device = await connect(server, again, sync=True)
        try:
            assert (await bob_shop.send_text(f"c2c_{carol}", "after"))["ok"]
            got = await new_device.event("message")
            assert got["elements"][0]["text"] == "after"
        finally:
            await new_device.close()
    finally:
        await device.close()
        await bob_shop.close()


def test_delete_a_code_account_with_a_code(home_server: Server, mailbox: Mailbox) -> None:
    server = home_server
    who, address = _code_account(server, mailbox)
    path = "/v1/home/me"
    assert error_of(call(server, "DELETE", path, who, {"password": PASSWORD})) == (400, 10002)
    assert error_of(call(server, "POST", "/v1/home/me/deletion-codes", who,
                          {"channel": "phone"})) == (404, 10010)
    # A sign-in code does not delete.
    ok(call(server, "POST", "/v1/home/codes", None, {"channel": "email", "address": address}))
    sign_in_code = mailbox.wait_code(address, 2)
    assert error_of(call(server, "DELETE", path, who,
                          {"channel": "email", "code": sign_in_code})) == (401, 96002)
    ok(call(server, "POST", "/v1/home/me/deletion-codes", who, {"channel": "email"}))
    code = mailbox.wait_code(address, 3)
    subject = mailbox.to(address)[2]["Subject"]
    assert subject == f"{code} is your Tidings code to delete your account"
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert error_of(call(server, "DELETE", path, who,
                          {"channel": "email", "code": wrong})) == (401, 96002)
    assert error_of(call(server, "DELETE", path, who,
                          {"channel": "phone", "code": code})) == (401, 96002)
    assert ok(call(server, "GET", path, who))["email"] == address
    gone = ok(call(server, "DELETE", path, who, {"channel": "email", "code": code}))
    assert gone == {"deleted": True, "links_removed": 0, "sessions_closed": 0}
    assert error_of(call(server, "GET", path, who)) == (403, 70107)
    # The address is free: the sign-in code from before makes a new account.
    fresh = ok(_code_sign_in(server, address, sign_in_code))
    assert fresh["created"] is True and fresh["user_id"] != who["user_id"]
