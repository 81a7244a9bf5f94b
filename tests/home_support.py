"""What the home-account tests drive besides the server: a real SMTP server
(aiosmtpd) that keeps the mail it gets, and helpers for the REST calls."""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.app_server import AppServer
from tests.conftest import BACKENDS, database_url
from tests.pg import Cluster, free_port
from tests.support import Conn, InProcessServer, Server


@dataclass
class Mailbox:
    """Mail that reached the SMTP server, in order."""

    mails: list[Message] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None
    port: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        mail = message_from_bytes(envelope.content)
        mail["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        with self._lock:
            self.mails.append(mail)
        return "250 OK"

    def start(self) -> Mailbox:
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def to(self, address: str) -> list[Message]:
        with self._lock:
            return [m for m in self.mails if m["To"] == address]

    def wait_code(self, address: str, count: int = 1, timeout: float = 10) -> str:
        """The code in the ``count``-th mail to ``address``."""
        deadline = time.monotonic() + timeout
        while True:
            mails = self.to(address)
            if len(mails) >= count:
                body = mails[count - 1].get_payload(decode=True)
                assert isinstance(body, bytes)
                found = re.search(r"\b(\d{6})\b", body.decode())
                assert found, body
                return found.group(1)
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail #{count} to {address} within {timeout} s")
            time.sleep(0.02)


def smtp_env(mailbox: Mailbox) -> dict[str, str]:
    return {"home_email_sender": "smtp", "home_smtp_host": "127.0.0.1",
            "home_smtp_port": str(mailbox.port), "home_smtp_from": "Tidings <no-reply@t.test>",
            "home_smtp_security": "none"}


def ok(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    doc: dict[str, Any] = reply.json()
    return doc


def bearer(signed_in: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed_in['usersig']}"}


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def webhook() -> Iterator[AppServer]:
    receiver = AppServer().start()
    yield receiver
    receiver.stop()


WEBHOOK_SECRET = "whsec-test-0123456789"


@pytest.fixture(scope="module", params=BACKENDS)
def home_server(request: pytest.FixtureRequest, pg_cluster: Cluster | None,
                tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox,
                webhook: AppServer) -> Iterator[Server]:
    """One server per module and backend with e-mail through SMTP and SMS
    through the webhook; its per-IP limits are out of the way (the tests of
    those limits start servers of their own)."""
    env = {f"TIDINGS_{k.upper()}": v for k, v in smtp_env(mailbox).items()}
    env.update({"TIDINGS_HOME_PHONE_SENDER": "webhook",
                "TIDINGS_HOME_WEBHOOK_URL": webhook.url,
                "TIDINGS_HOME_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "TIDINGS_HOME_ATTEMPTS_PER_IP": "100000",
                "TIDINGS_HOME_CODES_PER_IP": "100000",
                "TIDINGS_HOME_CODE_RESEND_AFTER": "0"})
    server = InProcessServer(tmp_path_factory.mktemp("home"),
                             database_url(str(request.param), pg_cluster), env)
    server.start()
    yield server
    server.stop()


_names = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other test of the run uses (servers are shared per module)."""
    return f"{prefix}{next(_names)}x{uuid.uuid4().hex[:6]}"


def register(server: Server, username: str, password: str = "correct horse 1"
             ) -> dict[str, Any]:
    return ok(httpx.post(f"{server.base_url}/v1/home/register",
                         json={"username": username, "password": password}, timeout=30))


def sign_in(server: Server, username: str, password: str = "correct horse 1"
            ) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/home/sign-in/password",
                      json={"username": username, "password": password}, timeout=30)


def call(server: Server, method: str, path: str, signed_in: dict[str, Any] | None,
         body: dict[str, Any] | None = None) -> httpx.Response:
    """A REST call as this sign-in (None: without one). Blocking, also from
    async tests: the server is another process, and the sockets' events
    wait in their buffers meanwhile."""
    headers = bearer(signed_in) if signed_in is not None else None
    return httpx.request(method, f"{server.base_url}{path}", headers=headers, json=body,
                         timeout=30)


async def connect(server: Server, signed_in: dict[str, Any], *, sync: bool = False) -> Conn:
    """A socket logged in with this sign-in's UserSig; ``sync`` also syncs
    (live delivery starts once a device has synced)."""
    conn = await Conn.open(server)
    reply = await conn.request("login", {"sdkappid": signed_in["sdkappid"],
                                         "user_id": signed_in["user_id"],
                                         "usersig": signed_in["usersig"]})
    assert reply["ok"], reply
    if sync:
        assert (await conn.request("sync", {"known": {}}))["ok"]
    return conn


def webhook_code(webhook: AppServer, number: str, count: int = 1) -> dict[str, Any]:
    """The body of the ``count``-th webhook call for this phone number."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        calls = [c for c in webhook.calls if c.doc.get("to") == number]
        if len(calls) >= count:
            doc: dict[str, Any] = calls[count - 1].doc
            return doc
        time.sleep(0.02)
    raise AssertionError(f"no webhook call #{count} to {number}")
