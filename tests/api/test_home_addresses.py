"""Adding a verified e-mail or phone to a signed-in home account and removing
one: a code to the new address, spent while signed in; codes of one purpose
never work for another; an address of another account is not revealed at
the request and refused once proven; the last way to sign in stays."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.app_server import AppServer
from tests.home_support import (
    Mailbox,
    bearer,
    call,
    home_server,
    mailbox,
    ok,
    register,
    sign_in,
    unique,
    webhook,
    webhook_code,
)
from tests.support import Server, error_of, openapi_doc

__all__ = ["home_server", "mailbox", "webhook"]


def _email() -> str:
    return f"{unique('a')}@mail.test"


def _phone() -> str:
    return f"+4917{uuid.uuid4().int % 10**9:09d}"


def _ask_attach(server: Server, who: dict[str, Any], channel: str, address: str
                ) -> httpx.Response:
    return call(server, "POST", "/v1/home/addresses/codes", who,
                 {"channel": channel, "address": address})


def _attach(server: Server, who: dict[str, Any], channel: str, address: str, code: str
            ) -> httpx.Response:
    return call(server, "POST", "/v1/home/addresses", who,
                 {"channel": channel, "address": address, "code": code})


def _me(server: Server, who: dict[str, Any]) -> dict[str, Any]:
    return ok(call(server, "GET", "/v1/home/me", who))


def _code_sign_in(server: Server, channel: str, address: str, code: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/home/sign-in/code",
                      json={"channel": channel, "address": address, "code": code}, timeout=30)


def test_a_password_account_adds_an_email_then_a_phone(
        home_server: Server, mailbox: Mailbox, webhook: AppServer) -> None:
    server = home_server
    name = unique("pat")
    pat = register(server, name)
    address = _email()
    asked = ok(_ask_attach(server, pat, "email", address.upper()))
    assert asked == {"sent": True, "expires_in": 600, "resend_after": 0}
    code = mailbox.wait_code(address)
    mail = mailbox.to(address)[0]
    assert mail["Subject"] == f"{code} is your Tidings code to add this address to an account"
    assert code not in str(asked)
    added = ok(_attach(server, pat, "email", address, code))
    assert added["email"] == address and added["replaced"] is None
    assert added["user_id"] == pat["user_id"] and added["username"] == name
    # Used once.
    assert error_of(_attach(server, pat, "email", address, code)) == (401, 96002)
    # The address now signs in to this account (no new account).
    ok(httpx.post(f"{server.base_url}/v1/home/codes",
                  json={"channel": "email", "address": address}, timeout=30))
    by_code = ok(_code_sign_in(server, "email", address, mailbox.wait_code(address, 2)))
    assert by_code["user_id"] == pat["user_id"] and by_code["created"] is False

    number = _phone()
    ok(_ask_attach(server, pat, "phone", number))
    sms = webhook_code(webhook, number)
    assert sms["purpose"] == "attach" and sms["code"] in sms["text"]
    with_phone = ok(_attach(server, pat, "phone", number, sms["code"]))
    assert with_phone["phone"] == number and with_phone["email"] == address
    assert _me(server, pat)["phone"] == number


def test_a_code_account_adds_the_other_kind_and_replaces_its_address(
        home_server: Server, mailbox: Mailbox, webhook: AppServer) -> None:
    server = home_server
    number = _phone()
    ok(httpx.post(f"{server.base_url}/v1/home/codes",
                  json={"channel": "phone", "address": number}, timeout=30))
    kim = ok(_code_sign_in(server, "phone", number, webhook_code(webhook, number)["code"]))
    first = _email()
    ok(_ask_attach(server, kim, "email", first))
    ok(_attach(server, kim, "email", first, mailbox.wait_code(first)))
    second = _email()
    ok(_ask_attach(server, kim, "email", second))
    moved = ok(_attach(server, kim, "email", second, mailbox.wait_code(second)))
    assert moved["email"] == second and moved["replaced"] == first
    assert moved["phone"] == number
    # The replaced address is free: its next code sign-in makes a new account.
    ok(httpx.post(f"{server.base_url}/v1/home/codes",
                  json={"channel": "email", "address": first}, timeout=30))
    other = ok(_code_sign_in(server, "email", first, mailbox.wait_code(first, 2)))
    assert other["created"] is True and other["user_id"] != kim["user_id"]


def test_codes_of_one_purpose_do_not_work_for_another(home_server: Server,
                                                      mailbox: Mailbox) -> None:
    server = home_server
    ana = register(server, unique("ana"))
    address = _email()
    # A sign-in code does not attach.
    ok(httpx.post(f"{server.base_url}/v1/home/codes",
                  json={"channel": "email", "address": address}, timeout=30))
    sign_in_code = mailbox.wait_code(address)
    assert error_of(_attach(server, ana, "email", address, sign_in_code)) == (401, 96002)
    assert _me(server, ana)["email"] is None
    # An attach code does not sign in (nor register the address).
    ok(_ask_attach(server, ana, "email", address))
    attach_code = mailbox.wait_code(address, 2)
    assert error_of(_code_sign_in(server, "email", address, attach_code)) == (401, 96002)
    # Another account cannot spend ana's attach code.
    bo = register(server, unique("bo"))
    assert error_of(_attach(server, bo, "email", address, attach_code)) == (401, 96002)
    assert _me(server, bo)["email"] is None
    # Each code still works for its own purpose.
    ok(_attach(server, ana, "email", address, attach_code))
    signed_in = ok(_code_sign_in(server, "email", address, sign_in_code))
    assert signed_in["user_id"] == ana["user_id"] and signed_in["created"] is False


def test_wrong_codes_and_bad_input_change_nothing(home_server: Server,
                                                  mailbox: Mailbox) -> None:
    server = home_server
    cid = register(server, unique("cid"))
    address = _email()
    ok(_ask_attach(server, cid, "email", address))
    code = mailbox.wait_code(address)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert error_of(_attach(server, cid, "email", address, wrong)) == (401, 96002)
    # The tries are spent: the right code no longer works either.
    assert error_of(_attach(server, cid, "email", address, code)) == (401, 96002)
    # An address that never got a code, malformed codes and addresses.
    assert error_of(_attach(server, cid, "email", _email(), code)) == (401, 96002)
    for bad in ("12345", "abcdef", "1234567"):
        assert error_of(_attach(server, cid, "email", address, bad)) == (401, 96002)
    assert error_of(_attach(server, cid, "email", "not-an-address", code)) == (400, 96005)
    assert error_of(_ask_attach(server, cid, "phone", "12345")) == (400, 96005)
    assert error_of(_ask_attach(server, cid, "fax", address)) == (400, 10002)
    assert error_of(httpx.post(f"{server.base_url}/v1/home/addresses", content=b"{",
                               headers={**bearer(cid), "Content-Type": "application/json"},
                               timeout=30)) == (400, 90001)
    me = _me(server, cid)
    assert me["email"] is None and me["phone"] is None
    # Without a home sign-in.
    assert error_of(call(server, "POST", "/v1/home/addresses/codes", None,
                          {"channel": "email", "address": address})) == (401, 70002)
    assert error_of(call(server, "DELETE", "/v1/home/addresses/email", None)) == (401, 70002)


def test_an_address_of_another_account(home_server: Server, mailbox: Mailbox) -> None:
    server = home_server
    address = _email()
    ok(httpx.post(f"{server.base_url}/v1/home/codes",
                  json={"channel": "email", "address": address}, timeout=30))
    owner = ok(_code_sign_in(server, "email", address, mailbox.wait_code(address)))
    dan = register(server, unique("dan"))
    # The request answers exactly as for a free address: nothing is revealed.
    free = _email()
    answers = [_ask_attach(server, dan, "email", address), _ask_attach(server, dan, "email", free)]
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].content == answers[1].content
    code = mailbox.wait_code(address, 2)
    # Proven, then refused with a clear code; nothing changed on either side.
    assert error_of(_attach(server, dan, "email", address, code)) == (409, 96010)
    assert _me(server, dan)["email"] is None
    assert _me(server, owner)["email"] == address
    # The code was not used up: once the owner frees the address, it works.
    assert error_of(call(server, "DELETE", "/v1/home/addresses/email", owner)) == (409, 96011)
    owner_name = unique("own")
    ok(call(server, "PATCH", "/v1/home/me", owner, {"username": owner_name}))
    ok(call(server, "POST", "/v1/home/password", owner, {"new_password": "owner pass 12"}))
    removed = ok(call(server, "DELETE", "/v1/home/addresses/email", owner))
    assert removed["email"] is None and removed["removed"] == address
    added = ok(_attach(server, dan, "email", address, code))
    assert added["email"] == address


def test_removing_addresses_keeps_a_way_to_sign_in(home_server: Server, mailbox: Mailbox,
                                                   webhook: AppServer) -> None:
    server = home_server
    address, number = _email(), _phone()
    ok(httpx.post(f"{server.base_url}/v1/home/codes",
                  json={"channel": "email", "address": address}, timeout=30))
    eve = ok(_code_sign_in(server, "email", address, mailbox.wait_code(address)))
    # The only way in: refused, and nothing changed.
    assert error_of(call(server, "DELETE", "/v1/home/addresses/email", eve)) == (409, 96011)
    assert _me(server, eve)["email"] == address
    # Nothing to remove, and a channel that does not exist.
    assert error_of(call(server, "DELETE", "/v1/home/addresses/phone", eve)) == (404, 10010)
    assert error_of(call(server, "DELETE", "/v1/home/addresses/fax", eve))[1] == 10002
    ok(_ask_attach(server, eve, "phone", number))
    ok(_attach(server, eve, "phone", number, webhook_code(webhook, number)["code"]))
    gone = ok(call(server, "DELETE", "/v1/home/addresses/email", eve))
    assert gone["email"] is None and gone["phone"] == number and gone["removed"] == address
    # Now the phone is the last way in.
    assert error_of(call(server, "DELETE", "/v1/home/addresses/phone", eve)) == (409, 96011)
    # A username alone is no way in; a username with a password is.
    name = unique("eve")
    ok(call(server, "PATCH", "/v1/home/me", eve, {"username": name}))
    assert error_of(call(server, "DELETE", "/v1/home/addresses/phone", eve)) == (409, 96011)
    ok(call(server, "POST", "/v1/home/password", eve, {"new_password": "eve's password"}))
    ok(call(server, "DELETE", "/v1/home/addresses/phone", eve))
    me = _me(server, eve)
    assert me["email"] is None and me["phone"] is None and me["has_password"] is True
    ok(sign_in(server, name, "eve's password"))
    # The removed address no longer signs in to eve: it makes a new account.
    ok(httpx.post(f"{server.base_url}/v1/home/codes",
                  json={"channel": "email", "address": address}, timeout=30))
    new = ok(_code_sign_in(server, "email", address, mailbox.wait_code(address, 2)))
    assert new["created"] is True and new["user_id"] != eve["user_id"]


async def test_two_removals_at_once_leave_a_way_in(home_server: Server, mailbox: Mailbox,
                                                   webhook: AppServer) -> None:
    server = home_server
    address, number = _email(), _phone()
    ok(call(server, "POST", "/v1/home/codes", None, {"channel": "email", "address": address}))
    fay = ok(_code_sign_in(server, "email", address, mailbox.wait_code(address)))
    ok(_ask_attach(server, fay, "phone", number))
    ok(_attach(server, fay, "phone", number, webhook_code(webhook, number)["code"]))
    async with httpx.AsyncClient(base_url=server.base_url, headers=bearer(fay),
                                 timeout=30) as http:
        answers = await asyncio.gather(http.delete("/v1/home/addresses/email"),
                                       http.delete("/v1/home/addresses/phone"))
    assert sorted(a.status_code for a in answers) == [200, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["error"]["code"] == 96011
    me = _me(server, fay)
    assert (me["email"] is None) != (me["phone"] is None)


def test_the_routes_are_in_the_openapi_spec(home_server: Server) -> None:
    spec = openapi_doc(home_server.base_url)
    for path, method in (("/v1/home/addresses/codes", "post"), ("/v1/home/addresses", "post"),
                         ("/v1/home/addresses/{channel}", "delete"),
                         ("/v1/home/password-reset/codes", "post"),
                         ("/v1/home/password-reset", "post"),
                         ("/v1/home/me/deletion-codes", "post"), ("/v1/home/me", "delete")):
        assert method in spec["paths"][path], path
