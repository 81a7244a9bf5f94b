"""How one-time codes reach people: a sender per channel. The console sender
(the development default) logs the code; SMTP sends e-mail; the webhook
POSTs to an SMS gateway (or any relay) with an HMAC signature.

A code travels only to its address (and, for the console sender, to the
server's own log); never in an answer to the client.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import orjson

from tidings.domain.home_accounts import Channel, CodePurpose

if TYPE_CHECKING:
    from email.message import EmailMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CodeMessage:
    channel: Channel
    address: str
    code: str
    # Seconds the code lives.
    expires_in: int
    # The home app's name, to say where the code is for.
    app_name: str
    purpose: CodePurpose = CodePurpose.SIGN_IN

    def subject(self) -> str:
        """The first line: the code and what it does, e.g. the mail's subject."""
        return f"{self.code} is your {self.app_name} {_WHAT[self.purpose]}"

    def text(self) -> str:
        minutes = max(1, self.expires_in // 60)
        return (f"{self.subject()}. It expires in {minutes} "
                f"minute{'s' if minutes != 1 else ''}. If you did not ask for it, "
                "ignore this message.")


# What a code is for, as the message says it (never "your account": the
# address may have none).
_WHAT = {CodePurpose.SIGN_IN: "sign-in code",
         CodePurpose.ATTACH: "code to add this address to an account",
         CodePurpose.RESET: "password reset code",
         CodePurpose.DELETE: "code to delete your account"}


class SendFailed(Exception):
    """The code could not be handed over; the text says why (for the log)."""


class CodeSender(Protocol):
    async def send(self, message: CodeMessage) -> None:
        """Hand the code over, or raise :class:`SendFailed`."""
        ...


class ConsoleSender:
    """Development only: the code goes to the server's log."""

    async def send(self, message: CodeMessage) -> None:
        # WARNING so that it shows at every usual log level.
        log.warning("home %s code for %s %s: %s (console sender; configure "
                    "SMTP or a webhook for real use)", message.purpose.value.replace("_", "-"),
                    message.channel.value, message.address, message.code)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    # "none", "starttls" or "ssl" (implicit TLS, usually port 465).
    security: str = "starttls"
    username: str = ""
    password: str = ""
    timeout: float = 10.0


class SmtpSender:
    """E-mail through an SMTP relay (smtplib on a worker thread: the relay
    answers in milliseconds to seconds, and the event loop must not wait)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._s = settings

    def _send_blocking(self, mail: EmailMessage) -> None:
        import smtplib  # here: only servers that send mail pay for the import

        s = self._s
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if s.security == "ssl":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with client:
            if s.security == "starttls":
                client.starttls(context=context)
            if s.username:
                client.login(s.username, s.password)
            client.send_message(mail)

    async def send(self, message: CodeMessage) -> None:
        from email.message import EmailMessage
        from smtplib import SMTPException

        mail = EmailMessage()
        mail["From"] = self._s.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject()
        mail.set_content(message.text())
        try:
            await asyncio.to_thread(self._send_blocking, mail)
        except (OSError, SMTPException) as exc:
            raise SendFailed(f"SMTP {self._s.host}:{self._s.port}: {exc}") from exc


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>``: the
    receiver recomputes it, and refuses old timestamps (replays)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookSender:
    """POST ``{"channel", "to", "code", "text", "expires_in"}`` as JSON, with
    ``X-Tidings-Timestamp`` and ``X-Tidings-Signature`` headers. Any 2xx
    answer means handed over."""

    def __init__(self, url: str, secret: str, timeout: float = 10.0) -> None:
        self._url = url
        self._secret = secret
        self._timeout = timeout

    async def send(self, message: CodeMessage) -> None:
        body = orjson.dumps({"channel": message.channel.value, "to": message.address,
                             "code": message.code, "text": message.text(),
                             "expires_in": message.expires_in,
                             "purpose": message.purpose.value})
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json",
                   "X-Tidings-Timestamp": str(timestamp),
                   "X-Tidings-Signature": webhook_signature(self._secret, timestamp, body)}
        import httpx  # here, as smtplib above: ~0.15 s at every start otherwise

        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                answer = await http.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendFailed(f"webhook {self._url}: {exc!r}") from exc
        if not 200 <= answer.status_code < 300:
            raise SendFailed(f"webhook {self._url} answered {answer.status_code}")
