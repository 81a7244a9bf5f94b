"""The push channels, each behind one interface: Web Push (VAPID, RFC 8291
through http_ece), APNs (HTTP/2, a JWT signed ES256) and FCM (HTTP v1, an
OAuth2 token from the app's service account). The app's own server is the
fourth channel; it rides on the callback outbox (services/push_decisions.py).

A channel answers each send with SENT, GONE (the token is dead: remove the
device), RETRY (try again later) or FAILED (the request itself is wrong:
retrying would not help)."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any
from urllib.parse import urlsplit

import http_ece
import httpx
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from tidings.domain.push import Channel, Delivery, Device, PushChannel, PushSettings, Result

# How long a Web Push service keeps a message for an unreachable browser.
WEBPUSH_TTL = 24 * 3600
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


def _by_status(status: int, body: bytes, gone: bool = False) -> Delivery:
    detail = f"HTTP {status}: {body[:200].decode(errors='replace')}"
    if 200 <= status < 300:
        return Delivery(Result.SENT)
    if gone:
        return Delivery(Result.GONE, detail)
    if status == 429 or status >= 500 or status in (401, 403, 408):
        # 401/403: the app's credentials may be fixed meanwhile.
        return Delivery(Result.RETRY, detail)
    return Delivery(Result.FAILED, detail)


def new_vapid_pair() -> tuple[str, str]:
    """(private PEM, public key as base64url of the uncompressed point: the
    ``applicationServerKey`` a browser subscribes with)."""
    vapid = Vapid02()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return (vapid.private_pem().decode(),
            base64.urlsafe_b64encode(public).rstrip(b"=").decode())


class WebPushChannel:
    def __init__(self, http: httpx.AsyncClient, default_subject: str) -> None:
        self._http = http
        self._subject = default_subject

    async def send(self, app: PushSettings, device: Device,
                   payload: dict[str, Any]) -> Delivery:
        sub = orjson.loads(device.token)
        receiver_key = base64.urlsafe_b64decode(sub["keys"]["p256dh"] + "==")
        auth = base64.urlsafe_b64decode(sub["keys"]["auth"] + "==")
        body = http_ece.encrypt(orjson.dumps(payload),
                                private_key=ec.generate_private_key(ec.SECP256R1()),
                                dh=receiver_key, auth_secret=auth, version="aes128gcm")
        url = urlsplit(sub["endpoint"])
        vapid = Vapid02.from_pem(app.vapid_private.encode())
        headers = vapid.sign({"aud": f"{url.scheme}://{url.netloc}",
                              "exp": int(time.time()) + 12 * 3600,
                              "sub": app.vapid_subject or self._subject})
        headers.update({"TTL": str(WEBPUSH_TTL), "Content-Encoding": "aes128gcm",
                        "Content-Type": "application/octet-stream", "Urgency": "high"})
        reply = await self._http.post(sub["endpoint"], content=body, headers=headers)
        return _by_status(reply.status_code, reply.content,
                          gone=reply.status_code in (404, 410))


class ApnsChannel:
    """HTTP/2 to APNs: POST /3/device/<token> with a provider JWT (ES256, kept
    for 50 minutes: Apple refuses one refreshed more often than every 20)."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._tokens: dict[tuple[int, str], tuple[float, str]] = {}

    def _jwt(self, app: PushSettings) -> str:
        key = (app.sdkappid, app.apns_key_id)
        hit = self._tokens.get(key)
        if hit is not None and time.monotonic() - hit[0] < 3000:
            return hit[1]
        token = jwt.encode({"iss": app.apns_team_id, "iat": int(time.time())}, app.apns_key,
                           algorithm="ES256", headers={"kid": app.apns_key_id})
        self._tokens[key] = (time.monotonic(), token)
        return token

    async def send(self, app: PushSettings, device: Device,
                   payload: dict[str, Any]) -> Delivery:
        body = {"aps": {"alert": {"title": payload["title"], "body": payload["body"]},
                        "badge": payload["badge"], "sound": "default",
                        "thread-id": payload["conversation_id"]},
                "conversation_id": payload["conversation_id"], "msg_id": payload["msg_id"],
                "ext": payload["ext"]}
        reply = await self._http.post(
            f"{self._base}/3/device/{device.token}", content=orjson.dumps(body),
            headers={"authorization": f"bearer {self._jwt(app)}", "apns-topic": app.apns_topic,
                     "apns-push-type": "alert", "apns-priority": "10",
                     "apns-collapse-id": payload["msg_id"][:64]})
        reason = ""
        if reply.status_code != 200:
            try:
                reason = str(orjson.loads(reply.content).get("reason", ""))
            except (orjson.JSONDecodeError, AttributeError):
                reason = ""
        gone = reply.status_code == 410 or reason in ("BadDeviceToken", "Unregistered",
                                                      "DeviceTokenNotForTopic")
        return _by_status(reply.status_code, reply.content, gone=gone)


class FcmChannel:
    """FCM HTTP v1: an OAuth2 access token from the service account (a JWT
    grant to its token_uri, cached until shortly before it expires), then
    POST /v1/projects/<project>/messages:send."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._tokens: dict[str, tuple[float, str]] = {}
        self._lock = asyncio.Lock()

    async def _access_token(self, account: dict[str, Any]) -> str:
        email = str(account["client_email"])
        async with self._lock:
            hit = self._tokens.get(email)
            if hit is not None and time.monotonic() < hit[0]:
                return hit[1]
            now = int(time.time())
            assertion = jwt.encode({"iss": email, "scope": FCM_SCOPE,
                                    "aud": account["token_uri"], "iat": now, "exp": now + 3600},
                                   account["private_key"], algorithm="RS256")
            reply = await self._http.post(account["token_uri"], data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion})
            reply.raise_for_status()
            doc = reply.json()
            token = str(doc["access_token"])
            self._tokens[email] = (time.monotonic() + int(doc.get("expires_in", 3600)) - 60,
                                   token)
            return token

    async def send(self, app: PushSettings, device: Device,
                   payload: dict[str, Any]) -> Delivery:
        account = orjson.loads(app.fcm_credentials)
        try:
            token = await self._access_token(account)
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            return Delivery(Result.RETRY, f"OAuth2 token: {str(exc)[:200]}")
        message = {"message": {
            "token": device.token,
            "notification": {"title": payload["title"], "body": payload["body"]},
            "data": {"conversation_id": payload["conversation_id"],
                     "msg_id": payload["msg_id"], "ext": payload["ext"],
                     "badge": str(payload["badge"])},
            "android": {"notification": {"notification_count": payload["badge"]}},
            "apns": {"payload": {"aps": {"badge": payload["badge"]}}},
        }}
        reply = await self._http.post(
            f"{self._base}/v1/projects/{account['project_id']}/messages:send",
            content=orjson.dumps(message),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
        gone = False
        if reply.status_code in (400, 404):
            try:
                details = orjson.loads(reply.content)["error"].get("details", [])
                gone = any(d.get("errorCode") == "UNREGISTERED" for d in details)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                gone = False
        return _by_status(reply.status_code, reply.content, gone=gone)


def channels(http: httpx.AsyncClient, http2: httpx.AsyncClient, *, vapid_subject: str,
             apns_url: str, fcm_url: str) -> dict[Channel, PushChannel]:
    return {Channel.WEBPUSH: WebPushChannel(http, vapid_subject),
            Channel.APNS: ApnsChannel(http2, apns_url),
            Channel.FCM: FcmChannel(http, fcm_url)}
