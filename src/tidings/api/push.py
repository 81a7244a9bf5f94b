"""Push over REST (docs/push.md): a user's devices register their push
address under ``/v1/push``; the app's admin sets credentials and looks at a
user's devices under ``/v1/admin/push``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel

from tidings.api.admin import Admin
from tidings.api.auth import runtime_of
from tidings.api.client import Me
from tidings.api.models import ErrorOut
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.ids import Identity, check_user_id
from tidings.domain.push import PushAppRequest, PushRegisterRequest, app_changes


class DeviceOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "device_id": "phone-1", "channel": "apns", "private_previews": False,
        "created_at": 1795310000123, "updated_at": 1795310000123}]}}

    device_id: str
    channel: str
    private_previews: bool
    created_at: int
    updated_at: int


class DevicesOut(BaseModel):
    user_id: str
    devices: list[DeviceOut]
    # Notifications still queued (retrying) or given up on, per device.
    queued: list[dict[str, Any]]


class VapidOut(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"public_key": "BOr6...Xw"}]}}

    public_key: str


class PushAppOut(BaseModel):
    private_previews: bool
    use_callback: bool
    vapid_public_key: str
    vapid_subject: str
    apns: dict[str, Any]
    fcm: dict[str, Any]


router = api_router(prefix="/v1/push", tags=["push"],
                   responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}})
admin_router = api_router(prefix="/v1/admin/push", tags=["admin"],
                         responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}})


@router.get("/vapid", response_model=VapidOut)
async def vapid_key(request: Request, me: Me) -> JSON:
    """The app's VAPID public key: the ``applicationServerKey`` a browser
    subscribes with (made and stored on first use)."""
    app = await runtime_of(request).push.vapid(me.sdkappid)
    return JSON({"public_key": app.vapid_public})


@router.get("/devices", response_model=DevicesOut)
async def my_devices(request: Request, me: Me) -> JSON:
    """The caller's devices that registered a push address."""
    return JSON(await runtime_of(request).push.devices(me))


@router.put("/devices", response_model=DeviceOut)
async def register(request: Request, me: Me, body: PushRegisterRequest) -> JSON:
    """Register (or replace) the push address of the caller's device
    ``device_id``: an APNs or FCM token, or a Web Push subscription. The same
    token registered by another account of the app moves here. 95100 when
    the app has no credentials for the channel, 95101 for a token that
    cannot be one."""
    return JSON(await runtime_of(request).push.register(me, body.device_id, body))


@router.delete("/devices/{device_id}")
async def unregister(request: Request, me: Me, device_id: str) -> JSON:
    """Remove a device's push address (at logout): it gets no more pushes,
    and what was queued for it is dropped."""
    return JSON(await runtime_of(request).push.unregister(me, device_id))


@admin_router.get("", response_model=PushAppOut)
async def get_settings(request: Request, admin: Admin) -> JSON:
    """The app's push settings (credentials are never shown, only whether set)."""
    return JSON(await runtime_of(request).push.app_settings(admin.sdkappid))


@admin_router.put("", response_model=PushAppOut)
async def put_settings(request: Request, admin: Admin, body: PushAppRequest) -> JSON:
    """Change the app's push settings: private previews, the callback
    channel, the VAPID subject, APNs and FCM credentials (checked: a P-256
    .p8 key for APNs, a service account with an RSA key for FCM)."""
    rt = runtime_of(request)
    values = app_changes(body, body.model_fields_set, rt.settings.push_allow_http)
    return JSON(await rt.push.put_app_settings(admin.sdkappid, values))


@admin_router.get("/users/{user_id}", response_model=DevicesOut)
async def user_devices(request: Request, admin: Admin, user_id: str) -> JSON:
    """A user's registered devices and their queued or failed notifications."""
    me = Identity(admin.sdkappid, check_user_id(user_id))
    return JSON(await runtime_of(request).push.devices(me))
