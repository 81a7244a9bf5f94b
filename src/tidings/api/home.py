"""The home app (hosted Tidings accounts, issue 5) over REST: what a messenger
needs to know before anyone signs in."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tidings.api.auth import runtime_of
from tidings.api.responses import JSON

router = APIRouter(prefix="/v1/home", tags=["home"])


@router.get("")
async def home_app(request: Request) -> JSON:
    """The built-in home app: its ``sdkappid`` (the app a messenger signs in
    to, like any app's client), ``name`` and ``icon_url``. No sign-in needed."""
    runtime = runtime_of(request)
    app = await runtime.apps.get(runtime.home_sdkappid)
    return JSON({"sdkappid": app.sdkappid, "name": app.name, "icon_url": app.icon_url})
