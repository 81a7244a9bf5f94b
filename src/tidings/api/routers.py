"""The API's routers and how an app gets their routes.

Each route is built (its parameters' and response models' validators and
serializers) once, when its module declares it, and ``add_routes`` puts
those very routes into the app. FastAPI's ``include_router`` keeps the
router instead and builds every route of it again, per app, at the app's
first request: ~190 routes, about a third of a ``tidings serve`` start's
CPU, paid again by every in-process server of the tests (bench/README.md,
"Start-up"). The answers that ``include_router`` would add from the app's
``responses`` are declared on each router by ``api_router`` instead, in
the same order, so the OpenAPI document is the same byte for byte
(tests/api/test_openapi_doc.py)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Route

from tidings.api.models import ErrorOut

# What every route answers besides its own: a request it refuses (400) and
# missing or bad credentials (401).
COMMON_ANSWERS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorOut},
                                                   401: {"model": ErrorOut}}


def api_router(*, prefix: str = "", tags: list[str | Enum] | None = None,
               responses: dict[int | str, dict[str, Any]] | None = None,
               include_in_schema: bool = True) -> APIRouter:
    """A router whose routes are complete as declared (``add_routes``)."""
    return APIRouter(prefix=prefix, tags=tags, include_in_schema=include_in_schema,
                     responses={**COMMON_ANSWERS, **(responses or {})})


def add_routes(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """The routers' routes, as they are, appended to the app's."""
    for router in routers:
        if list(router.responses)[:len(COMMON_ANSWERS)] != list(COMMON_ANSWERS):
            raise ValueError(f"a router of {router.prefix or '/'} not made by api_router")
        for route in router.routes:
            # Only routes: an included router would be built again per app.
            if not isinstance(route, APIRoute | APIWebSocketRoute | Route):
                raise ValueError(f"{route!r} is not a route (include_router?)")
        app.router.routes.extend(router.routes)
