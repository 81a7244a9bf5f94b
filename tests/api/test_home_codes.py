"""Home sign-in with a one-time code by e-mail (a real SMTP server) or phone
(an SMS gateway's webhook): the first sign-in registers, a code works once
and for a few tries, the answers tell nothing about who has an account, and
the rate limits hold."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.app_server import AppServer, closed_port
from tests.home_support import (
    WEBHOOK_SECRET,
    Mailbox,
    bearer,
    home_server,
    mailbox,
    ok,
    smtp_env,
    unique,
    webhook,
)
from tests.support import Server, error_of

__all__ = ["home_server", "mailbox", "webhook"]


def _ask(server: Server, channel: str, address: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/home/codes",
                      json={"channel": channel, "address": address}, timeout=30)


def _use(server: Server, channel: str, address: str, code: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/home/sign-in/code",
                      json={"channel": channel, "address": address, "code": code}, timeout=30)


def _email() -> str:
    return f"{unique('p')}@mail.test"


def test_email_code_registers_then_signs_in(home_server: Server, mailbox: Mailbox) -> None:
    server = home_server
    address = _email()
    asked = _ask(server, "email", "  " + address.upper())  # one spelling per address
    assert ok(asked) == {"sent": True, "expires_in": 600, "resend_after": 0}
    code = mailbox.wait_code(address)
    assert code not in asked.text
    mail = mailbox.to(address)[0]
    assert mail["From"] == "Tidings <no-reply@t.test>" and code in mail["Subject"]
    first = ok(_use(server, "email", address, code))
    assert first["created"] is True
    assert address.split("@")[0] not in first["user_id"]
    me = ok(httpx.get(f"{server.base_url}/v1/home/me", headers=bearer(first)))
    assert me["email"] == address and me["username"] is None and me["has_password"] is False
    # Used once: the same code again is refused.
    assert error_of(_use(server, "email", address, code)) == (401, 96002)

    ok(_ask(server, "email", address))
    second = ok(_use(server, "email", address, mailbox.wait_code(address, 2)))
    assert second["user_id"] == first["user_id"] and second["created"] is False


def test_request_answers_alike_for_known_and_unknown(home_server: Server,
                                                     mailbox: Mailbox) -> None:
    server = home_server
    known = _email()
    ok(_ask(server, "email", known))
    ok(_use(server, "email", known, mailbox.wait_code(known)))
    unknown = _email()
    answers = [_ask(server, "email", known), _ask(server, "email", unknown)]
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].content == answers[1].content


def test_a_code_has_few_tries(home_server: Server, mailbox: Mailbox) -> None:
    server = home_server
    address = _email()
    ok(_ask(server, "email", address))
    code = mailbox.wait_code(address)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert error_of(_use(server, "email", address, wrong)) == (401, 96002)
    # The tries are spent: even the right code no longer works.
    assert error_of(_use(server, "email", address, code)) == (401, 96002)
    # An address nobody asked a code for answers the same.
    assert error_of(_use(server, "email", _email(), code)) == (401, 96002)


def test_phone_code_through_the_signed_webhook(home_server: Server,
                                               webhook: AppServer) -> None:
    server = home_server
    digits = f"{int(time.time() * 1000) % 10**9:09d}"
    number = f"+49 151 {digits[:4]}-{digits[4:]}"
    normalized = f"+49151{digits}"
    ok(_ask(server, "phone", number))
    calls: list[Any] = []
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        calls = [c for c in webhook.calls if c.doc.get("to") == normalized]
        time.sleep(0.02)
    assert len(calls) == 1
    call = calls[0]
    stamp = call.headers["x-tidings-timestamp"]
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + call.body,
                                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(call.headers["x-tidings-signature"], expected)
    assert abs(int(stamp) - time.time()) < 60
    doc = call.doc
    assert doc["channel"] == "phone" and re.fullmatch(r"\d{6}", doc["code"])
    assert doc["code"] in doc["text"] and doc["expires_in"] == 600
    signed_in = ok(_use(server, "phone", normalized, doc["code"]))
    assert signed_in["created"] is True and digits not in signed_in["user_id"]
    me = ok(httpx.get(f"{server.base_url}/v1/home/me", headers=bearer(signed_in)))
    assert me["phone"] == normalized and me["email"] is None


def test_bad_addresses_and_codes(home_server: Server) -> None:
    server = home_server
    for channel, address in (("email", "no-at-sign"), ("email", "a@b"), ("email", "a b@c.de"),
                             ("phone", "12345"), ("phone", "+0123456789"),
                             ("phone", "+49 abc 1234567")):
        assert error_of(_ask(server, channel, address)) == (400, 96005), address
    assert error_of(_ask(server, "fax", "+4915112345678")) == (400, 10002)
    for code in ("12345", "1234567", "12345a", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        assert error_of(_use(server, "email", _email(), code)) == (401, 96002)
    assert error_of(httpx.post(f"{server.base_url}/v1/home/codes", content=b"[1,",
                               headers={"Content-Type": "application/json"})) == (400, 90001)


def test_code_rate_limits(make_server: Callable[..., Server], mailbox: Mailbox) -> None:
    server = make_server(**smtp_env(mailbox), home_code_resend_after="60")
    address = _email()
    ok(_ask(server, "email", address))
    again = _ask(server, "email", address)
    assert error_of(again) == (429, 10005)
    assert 0 < again.json()["error"]["retry_after"] <= 60
    assert len(mailbox.to(address)) == 1

    per_address = make_server(**smtp_env(mailbox), home_code_resend_after="0",
                              home_codes_per_address="2")
    address = _email()
    ok(_ask(per_address, "email", address))
    ok(_ask(per_address, "email", address))
    assert error_of(_ask(per_address, "email", address)) == (429, 10005)
    # The code sent last still works.
    ok(_use(per_address, "email", address, mailbox.wait_code(address, 2)))

    per_ip = make_server(**smtp_env(mailbox), home_codes_per_ip="2")
    ok(_ask(per_ip, "email", _email()))
    ok(_ask(per_ip, "email", _email()))
    assert error_of(_ask(per_ip, "email", _email())) == (429, 10005)


def test_smtp_failure_is_a_clear_error(make_server: Callable[..., Server]) -> None:
    server = make_server(home_email_sender="smtp", home_smtp_host="127.0.0.1",
                         home_smtp_port=str(closed_port()), home_smtp_from="t@t.test",
                         home_smtp_security="none")
    assert error_of(_ask(server, "email", _email())) == (503, 96007)


def test_console_sender_logs_the_code(make_server: Callable[..., Server]) -> None:
    server = make_server()
    address = _email()
    answer = ok(_ask(server, "email", address))
    assert answer["sent"] is True
    found = re.search(rf"code for email {re.escape(address)}: (\d{{6}})", server.log_tail())
    assert found, server.log_tail()
    ok(_use(server, "email", address, found.group(1)))
