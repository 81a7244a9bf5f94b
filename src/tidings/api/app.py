"""The ASGI application: REST routes, the WebSocket route, lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tidings import __version__, logs
from tidings.api import (
    admin,
    admin_apps,
    client,
    docs_pages,
    errors,
    friends,
    groups,
    health,
    home,
    links,
    openapi_doc,
    operator,
    protocol_log,
    search,
    tencent_v4,
    tencent_v4_accounts,
    tencent_v4_friends,
    tencent_v4_group_admin,
    tencent_v4_groups,
    tencent_v4_messages,
    tencent_v4_profiles,
    web,
)
from tidings.api import group_joins as group_join_routes
from tidings.api import home_recovery as home_recovery_routes
from tidings.api import media as media_api
from tidings.api import metrics as metrics_routes
from tidings.api import push as push_routes
from tidings.api.access_log import AccessLog
from tidings.api.limits import BodyLimits
from tidings.api.routers import COMMON_ANSWERS, add_routes
from tidings.config import Settings
from tidings.gateway.asgi import websocket_endpoint
from tidings.runtime import Runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    protocol_log.install()
    logs.configure_structlog()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings)
        app.state.runtime = runtime
        # What start-up made lives as long as the process: keep it out of
        # every collection, and collect the young generation less often.
        # Garbage collection took ~29% of the CPU under load before this.
        # 10,000, not more: a young collection's pause grows with it, and at
        # 50,000 it was one 8-21 ms pause every ~10 s at 500 msg/s (an
        # eighth of the slowest 1 %), at 10,000 five of 1.3-1.8 ms, for the
        # same CPU (bench/journal/perf-tail.md, "p99 at 500 msg/s").
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 50)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Tidings",
        version=__version__,
        summary="Self-hosted instant messaging that applications plug into.",
        lifespan=lifespan,
        # Served from the package by docs_pages, not from a CDN; the
        # document by openapi_doc (built once, off the event loop).
        docs_url=None, redoc_url=None, openapi_url=None,
        responses=COMMON_ANSWERS,
    )
    errors.install(app)
    # The v4 commands are registered on import, one module per Tencent service.
    assert all(m.SERVICE for m in (tencent_v4_accounts, tencent_v4_profiles,
                                   tencent_v4_messages, tencent_v4_groups,
                                   tencent_v4_friends, tencent_v4_group_admin))
    routers = [
        client.router, admin.router, tencent_v4.router,
        friends.router, friends.admin_router,
        groups.router, groups.admin_router, groups.admin_user_router,
        home.router, search.router, search.admin_router,
        group_join_routes.router, group_join_routes.admin_router,
        push_routes.router, push_routes.admin_router,
        media_api.router, media_api.admin_router,
        links.router, links.admin_router, links.settings_router,
        home_recovery_routes.router, web.router, web.link_router,
        operator.router, admin_apps.router,
    ]
    # The routes as their modules built them, not built again (api/routers.py).
    add_routes(app, routers)
    # Outermost but for Starlette's error middleware: bodies are limited, and
    # credentials checked, before any route reads a byte.
    app.add_middleware(BodyLimits, settings=settings,
                       routes=[r for router in routers for r in router.routes])
    # Outside the limits: a request they refuse gets its access line too.
    app.add_middleware(AccessLog)
    app.add_api_websocket_route("/v1/ws", websocket_endpoint)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, object]:
        rt: Runtime = app.state.runtime
        return {"status": "ok", "version": __version__,
                "connections": rt.bus.connection_count()}

    add_routes(app, [health.router, metrics_routes.router])
    openapi_doc.install(app)
    docs_pages.install(app)
    return app
