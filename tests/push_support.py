"""What the push tests share: the server settings that make retries quick,
a browser's push subscription that decrypts what it is sent, and waiting
for the requests the local push services received."""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import http_ece
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.app_server import AppServer, Call
from tests.support import App, Conn, Server

FAST = {"TIDINGS_PUSH_RETRY_BASE": "0.2", "TIDINGS_PUSH_RETRY_CAP": "0.4",
        "TIDINGS_PUSH_POLL_INTERVAL": "0.1", "TIDINGS_PUSH_MAX_ATTEMPTS": "4",
        "TIDINGS_PUSH_ALLOW_HTTP": "1", "TIDINGS_CALLBACK_POLL_INTERVAL": "0.1",
        "TIDINGS_CALLBACK_RETRY_BASE": "0.2", "TIDINGS_CALLBACK_RETRY_CAP": "0.4"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


P256_PRIME = 2**256 - 2**224 + 2**192 + 2**96 - 1


def p256dh(key: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    """A browser's ``keys.p256dh``: the public key of ``key`` (a new one when
    not given) as an uncompressed P-256 point, 0x04 then x and y."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)


def off_curve() -> bytes:
    """65 bytes shaped as an uncompressed point (0x04, x, y) that is not on
    P-256: a real point with y + 1."""
    point = p256dh()
    y = (int.from_bytes(point[33:]) + 1) % P256_PRIME
    return point[:33] + y.to_bytes(32)


@dataclass
class Browser:
    """A browser's push subscription: its keys decrypt what it is sent."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls, services: AppServer) -> Browser:
        return cls(f"http://127.0.0.1:{services.port}/wp/{uuid.uuid4().hex}",
                   ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @property
    def path(self) -> str:
        return "/" + self.endpoint.split("/", 3)[3]

    def subscription(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64(p256dh(self.key)), "auth": b64(self.auth)}}

    def read(self, call: Call) -> dict[str, Any]:
        assert call.headers["content-encoding"] == "aes128gcm"
        assert int(call.headers["ttl"]) > 0
        plain = http_ece.decrypt(call.body, private_key=self.key, auth_secret=self.auth,
                                 version="aes128gcm")
        return orjson.loads(plain)  # type: ignore[no-any-return]


def calls_to(services: AppServer, path: str) -> list[Call]:
    return [c for c in list(services.calls) if c.path == path]


async def wait_calls(services: AppServer, path: str, count: int = 1,
                     timeout: float = 10) -> list[Call]:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        found = calls_to(services, path)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} requests to {path}, wanted {count}")
        await asyncio.sleep(0.02)


async def login(server: Server, app: App, user: str, device: str | None = None) -> Conn:
    conn = await Conn.open(server)
    reply = await conn.request("login", {
        "sdkappid": app.sdkappid, "user_id": user, "usersig": app.sig(user),
        "device": {"platform": "web", "id": device or f"{user}-web"}})
    assert reply["ok"], reply
    assert (await conn.request("sync", {}))["ok"]
    return conn


async def ok(conn: Conn, op: str, data: dict[str, Any]) -> Any:
    reply = await conn.request(op, data)
    assert reply["ok"], reply
    return reply["data"]
