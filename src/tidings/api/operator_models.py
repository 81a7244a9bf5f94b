"""Request and response shapes of the operator and app-management routes
(api/operator.py, api/admin_apps.py), for the OpenAPI spec and docs/console.md."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tidings.domain.requests import Payload


class SignInRequest(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "ops", "password": "a long operator password"}]})

    name: str = Field(max_length=64)
    password: str = Field(max_length=4096)


class OperatorSessionOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"name": "ops", "token": "tdo_3q2fQ...", "expires_at": 1795353200123}]}}

    name: str
    token: str
    expires_at: int


class OperatorMeOut(BaseModel):
    name: str
    created_at: int
    expires_at: int


class SignedOutOut(BaseModel):
    signed_out: bool


class OperatorSessionView(BaseModel):
    id: str
    client_ip: str
    created_at: int
    expires_at: int
    current: bool


class OperatorSessionsOut(BaseModel):
    sessions: list[OperatorSessionView]


class AppCreateRequest(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "ShopX", "icon_url": "https://shopx.example/icon.png",
         "admin": "administrator"}]})

    name: str = Field(min_length=1, max_length=64)
    icon_url: str = Field("", max_length=512)
    admin: str = Field("administrator", max_length=32)


class AppPatchRequest(Payload):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "ShopX", "icon_url": "https://shopx.example/icon.png"}]})

    name: str | None = Field(None, min_length=1, max_length=64)
    icon_url: str | None = Field(None, max_length=512)


class SecretKeyOut(BaseModel):
    id: int
    secret_key: str
    created_at: int
    retired_at: int | None


class AppOut(BaseModel):
    """An app; ``keys`` (its secret keys, which sign UserSigs) only where
    the caller may manage the app."""

    model_config = {"json_schema_extra": {"examples": [{
        "sdkappid": 1400123456, "name": "ShopX", "icon_url": "https://shopx.example/icon.png",
        "created_at": 1795310000123, "admins": ["administrator"], "kind": "app"}]}}

    sdkappid: int
    name: str
    icon_url: str
    created_at: int
    admins: list[str]
    kind: str
    keys: list[SecretKeyOut] | None = None


class AppsOut(BaseModel):
    apps: list[AppOut]


class AppCreatedOut(AppOut):
    secret_key: str


class RetiredOut(BaseModel):
    retired: int


class ApiKeyOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": 3, "sdkappid": 1400123456, "name": "console", "prefix": "tdk_1400123456_Ab3dE9",
        "created_at": 1795310000123, "revoked_at": None}]}}

    id: int
    sdkappid: int
    name: str
    prefix: str
    created_at: int
    revoked_at: int | None


class ApiKeysOut(BaseModel):
    api_keys: list[ApiKeyOut]


class ApiKeyCreatedOut(ApiKeyOut):
    key: str


class ApiKeyRequest(Payload):
    name: str = Field("", max_length=64)


class RevokedOut(BaseModel):
    revoked: bool


class SeriesPointOut(BaseModel):
    at: int = Field(description="the step's start, ms since the epoch")
    connections: int = Field(description="the most connections sampled in a minute of the "
                                         "step, every process together")
    active_users: int = Field(description="the most users active in a minute of the step "
                                          "(a ticket checked: a login or a REST call)")
    messages: int
    callbacks_delivered: int
    callbacks_failed: int
    callback_latency_ms: float | None = Field(
        description="mean time from queued to delivered of the step's delivered callbacks")


class SeriesOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "since": 1795309200000, "step_ms": 3600000, "points": [
            {"at": 1795309200000, "connections": 212, "active_users": 180, "messages": 1520,
             "callbacks_delivered": 1498, "callbacks_failed": 2,
             "callback_latency_ms": 41.5}]}]}}

    since: int
    step_ms: int
    points: list[SeriesPointOut]
