"""Push for receivers who are offline: the channels, what a device registers,
an app's push settings, the sender's per-message options, and the text of a
notification. No I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field

from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.records import record


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Channel(StrEnum):
    WEBPUSH = "webpush"
    APNS = "apns"
    FCM = "fcm"


MAX_TOKEN_BYTES = 4096
# What a notification shows instead of the content when previews are private.
PRIVATE_TEXT = "New message"
# The label of each element kind in a preview ("Alice (Team): [Image]").
_LABELS = {"image": "[Image]", "sound": "[Voice]", "video": "[Video]", "file": "[File]",
           "location": "[Location]", "face": "[Sticker]", "custom": "[Message]"}


class PushOptions(Payload):
    """The sender's options for one message's push (Tencent's OfflinePushInfo)."""

    disabled: bool = Field(False, description="Do not push this message (PushFlag 1)")
    title: str = Field("", max_length=100, description="The notification's title")
    text: str = Field("", max_length=500,
                      description="Shown instead of the built text (Desc)")
    ext: str = Field("", max_length=1024, description="Passed to the device untouched (Ext)")

    def stored(self) -> str:
        """The push_jobs.options column ("" for defaults)."""
        if not (self.title or self.text or self.ext):
            return ""
        return orjson.dumps({"title": self.title, "text": self.text, "ext": self.ext}).decode()

    @classmethod
    def from_stored(cls, raw: str) -> PushOptions:
        return cls.model_validate_json(raw) if raw else cls()

    @classmethod
    def from_tencent(cls, info: object) -> PushOptions:
        """Tencent v4's ``OfflinePushInfo`` (PushFlag, Title, Desc, Ext)."""
        if info is None:
            return cls()
        if not isinstance(info, dict):
            raise TidingsError(ErrorCode.INVALID_REQUEST, "OfflinePushInfo must be an object")
        try:
            return cls(disabled=info.get("PushFlag", 0) == 1,
                       title=str(info.get("Title", "")), text=str(info.get("Desc", "")),
                       ext=str(info.get("Ext", "")))
        except ValueError as exc:
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               f"OfflinePushInfo: {str(exc).splitlines()[0]}") from None


class WebPushKeys(Payload):
    p256dh: str = Field(max_length=256)
    auth: str = Field(max_length=64)


class WebPushSubscription(Payload):
    """A browser's ``PushSubscription.toJSON()`` (expirationTime is ignored)."""

    endpoint: str = Field(max_length=2048)
    keys: WebPushKeys
    expirationTime: int | None = None


class PushRegisterRequest(Payload):
    """A device's push address. Over WebSocket the device is the one that
    logged in; over REST ``device_id`` says which."""

    channel: Channel = Field(strict=False, description="webpush, apns or fcm")
    token: str = Field("", max_length=MAX_TOKEN_BYTES,
                       description="APNs device token (hex) or FCM registration token")
    subscription: WebPushSubscription | None = Field(
        None, description="Web Push: the browser's PushSubscription as JSON")
    private_previews: bool = Field(False, description="Hide the content on this device")
    device_id: str = Field("", max_length=64)


class PushUnregisterRequest(Payload):
    device_id: str = Field("", max_length=64)


class AppStateRequest(Payload):
    """A device tells whether its app is in the foreground (it shows
    messages itself) or in the background (it wants pushes)."""

    state: str = Field(pattern="^(foreground|background)$")


def _b64url(value: str, size: int | None, what: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise TidingsError(ErrorCode.INVALID_PUSH_TOKEN, f"{what} is not base64url") from None
    if size is not None and len(raw) != size:
        raise TidingsError(ErrorCode.INVALID_PUSH_TOKEN, f"{what} must be {size} bytes")
    return raw


def _check_p256dh(raw: bytes) -> None:
    """The browser's public key: an uncompressed point (0x04, x, y) on P-256,
    as the encryption at every send wants it (RFC 8291), so that a key that
    could never be used is refused at registration, not stored."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if raw[0] != 4:
        raise TidingsError(ErrorCode.INVALID_PUSH_TOKEN,
                           "keys.p256dh must be an uncompressed P-256 point (first byte 0x04)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise TidingsError(ErrorCode.INVALID_PUSH_TOKEN,
                           "keys.p256dh must be an uncompressed P-256 point: "
                           "this one is not on the curve") from None


def check_address(req: PushRegisterRequest, allow_http: bool = False) -> str:
    """The token to store for a registration, or INVALID_PUSH_TOKEN."""
    if req.channel is Channel.WEBPUSH:
        sub = req.subscription
        if sub is None or req.token:
            raise TidingsError(ErrorCode.INVALID_PUSH_TOKEN,
                               "a webpush device registers a subscription, not a token")
        url = urlsplit(sub.endpoint)
        if (url.scheme != "https" and not (allow_http and url.scheme == "http")) or not url.netloc:
            raise TidingsError(ErrorCode.INVALID_PUSH_TOKEN,
                               "the subscription's endpoint must be an https URL")
        _check_p256dh(_b64url(sub.keys.p256dh, 65, "keys.p256dh"))
        _b64url(sub.keys.auth, 16, "keys.auth")
        return orjson.dumps({"endpoint": sub.endpoint, "keys": {
            "p256dh": sub.keys.p256dh, "auth": sub.keys.auth}}).decode()
    if req.subscription is not None or not req.token:
        raise TidingsError(ErrorCode.INVALID_PUSH_TOKEN,
                           f"an {req.channel.value} device registers a token")
    if req.channel is Channel.APNS:
        if len(req.token) % 2 or len(req.token) > 200 or not all(
                c in "0123456789abcdefABCDEF" for c in req.token):
            raise TidingsError(ErrorCode.INVALID_PUSH_TOKEN, "an APNs token is hex")
        return req.token.lower()
    if not req.token.isprintable() or " " in req.token:
        raise TidingsError(ErrorCode.INVALID_PUSH_TOKEN, "an FCM token has no spaces")
    return req.token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def preview(elements_json: str) -> str:
    """A message's content as one line: its texts, and a label per other kind."""
    parts: list[str] = []
    try:
        elements = orjson.loads(elements_json)
    except orjson.JSONDecodeError:
        return ""
    for element in elements if isinstance(elements, list) else ():
        kind = element.get("type") if isinstance(element, dict) else None
        if kind == "text":
            parts.append(str(element.get("text", "")))
        elif kind == "custom" and element.get("desc"):
            parts.append(str(element["desc"]))
        elif kind in _LABELS:
            parts.append(_LABELS[str(kind)])
    return " ".join(p for p in parts if p)


def notification(sender_name: str, group_name: str | None, elements_json: str,
                 options: PushOptions, private: bool) -> tuple[str, str]:
    """``(title, body)``: "Alice: hi" one to one, "Alice (Team): [Image]" in a
    group; the sender's own text instead when given; the content hidden when
    previews are private (the sender's text too: it may quote the message)."""
    if private:
        return "", PRIVATE_TEXT
    who = sender_name if group_name is None else f"{sender_name} ({group_name})"
    body = options.text or f"{who}: {preview(elements_json)}"
    return options.title, body[:1000]


def payload(title: str, body: str, badge: int, conversation_id: str, msg_id: str,
            ext: str) -> dict[str, Any]:
    """What every channel turns into its own shape (push_sends.payload)."""
    return {"title": title, "body": body, "badge": badge,
            "conversation_id": conversation_id, "msg_id": msg_id, "ext": ext}


class ApnsCredentials(Payload):
    key_id: str = Field(min_length=1, max_length=32, description="The .p8 key's id (kid)")
    team_id: str = Field(min_length=1, max_length=32, description="The Apple team id (iss)")
    topic: str = Field(min_length=1, max_length=256, description="The app's bundle id")
    key: str = Field(min_length=1, max_length=4096, description="The .p8 key (PEM, P-256)")


class FcmCredentials(Payload):
    """A Google service account key file, as downloaded (extra fields ignored)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    project_id: str = Field(min_length=1, max_length=128)
    client_email: str = Field(min_length=3, max_length=256)
    private_key: str = Field(min_length=1, max_length=8192)
    token_uri: str = Field("https://oauth2.googleapis.com/token", max_length=512)


class PushAppRequest(Payload):
    """An app's push settings; a field left out keeps its value, ``null``
    for ``apns`` or ``fcm`` removes those credentials."""

    private_previews: bool | None = Field(
        None, description="Hide the content of every notification of the app")
    use_callback: bool | None = Field(
        None, description="Receivers with no registered device go to the offline_push callback")
    vapid_subject: str | None = Field(None, max_length=256,
                                      description="mailto: or https: contact for Web Push")
    apns: ApnsCredentials | None = None
    fcm: FcmCredentials | None = None


def _private_key(pem: str, what: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           f"{what} is not an unencrypted PEM private key") from None


def app_changes(req: PushAppRequest, given: set[str], allow_http: bool) -> dict[str, Any]:
    """The app_push columns a settings request changes (checked)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    values: dict[str, Any] = {}
    if req.private_previews is not None:
        values["private_previews"] = int(req.private_previews)
    if req.use_callback is not None:
        values["use_callback"] = int(req.use_callback)
    if req.vapid_subject is not None:
        if not req.vapid_subject.startswith(("mailto:", "https://")):
            raise TidingsError(ErrorCode.INVALID_REQUEST,
                               "vapid_subject: a mailto: or https: URL")
        values["vapid_subject"] = req.vapid_subject
    if "apns" in given:
        a = req.apns
        if a is not None and not isinstance(_private_key(a.key, "apns.key"),
                                            ec.EllipticCurvePrivateKey):
            raise TidingsError(ErrorCode.INVALID_REQUEST, "apns.key: an APNs key is P-256")
        values.update(apns_key_id=a.key_id if a else "", apns_team_id=a.team_id if a else "",
                      apns_topic=a.topic if a else "", apns_key=a.key if a else "")
    if "fcm" in given:
        f = req.fcm
        if f is not None:
            if not isinstance(_private_key(f.private_key, "fcm.private_key"),
                              rsa.RSAPrivateKey):
                raise TidingsError(ErrorCode.INVALID_REQUEST, "fcm.private_key: an RSA key")
            scheme = urlsplit(f.token_uri).scheme
            if scheme != "https" and not (allow_http and scheme == "http"):
                raise TidingsError(ErrorCode.INVALID_REQUEST, "fcm.token_uri: an https URL")
        values["fcm_credentials"] = f.model_dump_json() if f else ""
    return values


@dataclass(frozen=True, slots=True)
class PushSettings:
    """An app's push settings and channel credentials (the app_push row)."""

    sdkappid: int
    private_previews: bool = False
    use_callback: bool = False
    vapid_private: str = ""
    vapid_public: str = ""
    vapid_subject: str = ""
    apns_key_id: str = ""
    apns_team_id: str = ""
    apns_topic: str = ""
    apns_key: str = ""
    fcm_credentials: str = ""

    def has(self, channel: Channel) -> bool:
        if channel is Channel.APNS:
            return bool(self.apns_key and self.apns_key_id and self.apns_team_id
                        and self.apns_topic)
        if channel is Channel.FCM:
            return bool(self.fcm_credentials)
        return True  # Web Push: the VAPID pair is made on first use


@record  # the push worker reads up to a few thousand a step: plain slot stores
class Device:
    """One device's push address, as registered."""

    sdkappid: int
    user_id: str
    device_id: str
    channel: Channel
    token: str
    private_previews: bool
    created_at: int
    updated_at: int

    def view(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "channel": self.channel.value,
                "private_previews": self.private_previews, "created_at": self.created_at,
                "updated_at": self.updated_at}


class Result(Enum):
    """How one send to a push channel went."""

    SENT = "sent"
    GONE = "gone"  # the token is dead: remove the device
    RETRY = "retry"  # try again later
    FAILED = "failed"  # the request itself is wrong: retrying would not help


@dataclass(frozen=True, slots=True)
class Delivery:
    result: Result
    detail: str = ""


class PushChannel(Protocol):
    """One push service (adapters/push_channels.py); here so the worker
    needs none of the channels' libraries until its first push."""

    async def send(self, app: PushSettings, device: Device,
                   payload: dict[str, Any]) -> Delivery: ...
