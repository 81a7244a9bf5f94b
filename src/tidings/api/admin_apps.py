"""The app itself on the native admin API (``/v1/admin/app``,
docs/console.md): its name and icon, its secret keys (rotation without
downtime) and its API keys, for whoever administers the app: an admin's
UserSig, one of its API keys, or an operator naming it with ``Tidings-App``.
Always the app the credential names (api/admin.py), never another."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from tidings.api.admin import Admin
from tidings.api.auth import runtime_of
from tidings.api.models import ErrorOut
from tidings.api.operator_models import (
    ApiKeyCreatedOut,
    ApiKeyRequest,
    ApiKeysOut,
    AppOut,
    AppPatchRequest,
    RetiredOut,
    RevokedOut,
    SecretKeyOut,
    SeriesOut,
)
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.apps import api_key_view, app_view
from tidings.domain.errors import ErrorCode, TidingsError

router = api_router(prefix="/v1/admin/app", tags=["admin: app"],
                   responses={403: {"model": ErrorOut}})


@router.get("", response_model=AppOut)
async def get_app(request: Request, admin: Admin) -> JSON:
    """The app with its secret keys (live and retired) and admin accounts."""
    found = await runtime_of(request).apps.refresh(admin.sdkappid)
    return JSON(app_view(found, with_keys=True))


@router.patch("", response_model=AppOut)
async def patch_app(request: Request, admin: Admin, body: AppPatchRequest) -> JSON:
    """Change the app's name and/or icon URL (https, or empty for none):
    what people see of the app, e.g. beside a linked identity."""
    found = await runtime_of(request).apps.update(admin.sdkappid, body.name, body.icon_url)
    return JSON(app_view(found, with_keys=True))


@router.post("/keys", response_model=SecretKeyOut, status_code=201)
async def add_key(request: Request, admin: Admin) -> JSON:
    """Rotation, step one: one more live secret key (the old ones keep
    signing). Sign with it on your servers, then retire the old ones."""
    apps = runtime_of(request).apps
    await apps.add_key(admin.sdkappid)
    newest = (await apps.refresh(admin.sdkappid)).keys[-1]
    return JSON({"id": newest.id, "secret_key": newest.secret_key,
                 "created_at": newest.created_at, "retired_at": newest.retired_at},
                status_code=201)


@router.post("/keys/retire-old", response_model=RetiredOut)
async def retire_old_keys(request: Request, admin: Admin) -> JSON:
    """Rotation, step two: retire every key but the newest; UserSigs signed
    with a retired key are refused (within ``app_cache_ttl`` everywhere)."""
    return JSON({"retired": await runtime_of(request).apps.retire_all_but_newest(
        admin.sdkappid)})


@router.get("/series", response_model=SeriesOut)
async def series(request: Request, admin: Admin,
                 minutes: Annotated[int, Query(ge=1, le=10_080)] = 1440,
                 step: Annotated[int, Query(ge=1, le=1440)] = 60) -> JSON:
    """The app's figures over the last ``minutes`` (up to 7 days) in steps
    of ``step`` minutes (at most 1440 steps), oldest first, the last step
    the current one: messages stored, callbacks delivered and failed, and
    their mean time from queued to delivered. From the stored rows, so the
    figures of every process of a cluster are in them."""
    return JSON(await runtime_of(request).stats.series(admin.sdkappid, minutes, step))


@router.get("/api-keys", response_model=ApiKeysOut)
async def list_api_keys(request: Request, admin: Admin) -> JSON:
    """The app's API keys by their prefix (only a hash of each is kept),
    revoked ones too."""
    found = await runtime_of(request).apps.list_api_keys(admin.sdkappid)
    return JSON({"api_keys": [api_key_view(k) for k in found]})


@router.post("/api-keys", response_model=ApiKeyCreatedOut, status_code=201)
async def create_api_key(request: Request, admin: Admin, body: ApiKeyRequest) -> JSON:
    """A new API key for the app's admin API, shown this once (``key``)."""
    record, key = await runtime_of(request).apps.create_api_key(admin.sdkappid, body.name)
    return JSON({**api_key_view(record), "key": key}, status_code=201)


@router.delete("/api-keys/{key_id}", response_model=RevokedOut)
async def revoke_api_key(request: Request, admin: Admin, key_id: int) -> JSON:
    """Revoke one of the app's API keys: refused at once from then on
    (10010 when the app has no such live key)."""
    if not await runtime_of(request).apps.revoke_api_key(admin.sdkappid, key_id):
        raise TidingsError(ErrorCode.NOT_FOUND, f"the app has no live API key {key_id}")
    return JSON({"revoked": True})
