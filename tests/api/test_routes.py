"""How an app gets the API's routes (api/routers.py): the routes each module
built, put into the app as they are, not the routers included (FastAPI
would build every route again per app at its first request). What clients
see must not change: the OpenAPI document is the one ``include_router``
gives, byte for byte."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

import tidings.api.app as app_module
from tests.support import Server
from tidings.api import admin, client, groups, health
from tidings.api.routers import LazyRoute, add_routes, api_router
from tidings.config import Settings


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def test_the_document_is_the_one_include_router_gives(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ours = app_module.create_app(_settings(tmp_path)).openapi()

    def included(app: FastAPI, routers: Iterable[APIRouter]) -> None:
        for router in routers:
            app.include_router(router)

    monkeypatch.setattr(app_module, "add_routes", included)
    theirs = app_module.create_app(_settings(tmp_path)).openapi()
    assert orjson.dumps(ours) == orjson.dumps(theirs)
    # Every operation still declares the answers the app gives every route.
    operations = [op for item in ours["paths"].values() for op in item.values()
                  if isinstance(op, dict) and "responses" in op]
    assert len(operations) > 150
    assert all({"400", "401"} <= set(op["responses"]) for op in operations)
    # The error answers name ErrorOut by reference (api/routers.py): each
    # reference in the document is to a schema the document holds.
    body = orjson.dumps(ours).decode()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', body))
    assert {"ErrorOut", "ErrorBody"} <= refs <= set(ours["components"]["schemas"])


def test_apps_share_the_routes_their_modules_built(tmp_path: Path) -> None:
    first = app_module.create_app(_settings(tmp_path))
    second = app_module.create_app(_settings(tmp_path))
    # No router left to build again at the first request: routes only.
    assert all(type(r) is LazyRoute or (type(r).__module__.split(".")[0] in ("fastapi", "starlette")
               and not type(r).__name__.startswith("_")) for r in first.router.routes)
    built = [r for router in (admin.router, client.router, groups.router, health.router)
             for r in router.routes]
    assert all(isinstance(r, APIRoute) for r in built)
    for app in (first, second):
        held = {id(r) for r in app.router.routes}
        assert all(id(r) in held for r in built)


def test_a_route_answers_through_the_shared_routes(server: Server) -> None:
    assert httpx.get(f"{server.base_url}/livez", timeout=10).json() == {"status": "alive"}
    # Bad credentials: the JSON error, from a route the app did not build.
    answer = httpx.get(f"{server.base_url}/v1/admin/users/x/groups", timeout=10,
                       headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert "error" in answer.json()


def test_a_router_not_made_by_api_router_is_refused() -> None:
    app = FastAPI()
    plain = APIRouter(prefix="/x")

    @plain.get("/y")
    async def y() -> dict[str, int]:
        return {"y": 1}

    with pytest.raises(ValueError, match="not made by api_router"):
        add_routes(app, [plain])
    nested = api_router(prefix="/n")
    nested.include_router(api_router(prefix="/m"))
    with pytest.raises(ValueError, match="include_router"):
        add_routes(app, [nested])


def test_a_route_is_built_once_at_its_first_read_from_any_thread() -> None:
    """LazyRoute: the tests' servers, each on its own thread, share the
    routes; the first reads of one route at once all wait for one build."""
    router = api_router(prefix="/lazy")

    @router.post("/items/{item_id}")
    async def put_item(item_id: int, body: dict[str, int]) -> dict[str, int]:
        return body

    route = router.routes[0]
    assert isinstance(route, LazyRoute) and not route._built
    assert route.matches({"type": "http", "path": "/lazy/items/3", "method": "POST",
                          "root_path": ""})[0].name == "FULL"
    assert not route._built  # matching reads only what is set at once
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(route.dependant)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(seen) == 8 and all(d is seen[0] for d in seen) and route._built
    assert [p.name for p in route.dependant.path_params] == ["item_id"]
    assert route.body_field is not None
