"""The API's routers and how an app gets their routes.

Each route is built (its parameters' and response models' validators and
serializers) once, when its module declares it, and ``add_routes`` puts
those very routes into the app. FastAPI's ``include_router`` keeps the
router instead and builds every route of it again, per app, at the app's
first request: ~190 routes, about a third of a ``tidings serve`` start's
CPU, paid again by every in-process server of the tests (bench/journal/startup-ci.md,
"Start-up"). The answers that ``include_router`` would add from the app's
``responses`` are declared on each router by ``api_router`` instead, in
the same order, so the OpenAPI document is the same byte for byte
(tests/api/test_routes.py).

The error answers (``{"model": ErrorOut}``) are declared to FastAPI by
their schema's reference instead of the model: for each such answer of
each route FastAPI would build a validator and serializer of ``ErrorOut``
(~700 of them, ~0.2 s of CPU at every start) used only for the document,
where the reference is what it writes anyway. The app's own ``responses``
keep the model (api/app.py), so ``ErrorOut`` is in the document's
components.

A route is built at its first use (``LazyRoute``), not when its module
declares it: what matching a request reads (the path's regex, the methods,
the name) is set at once, the rest (the parameters' and response models'
fields: ~460 at import, ~0.3 s of a start) when anything else of the route
is first read: its first request, or the OpenAPI document. A process builds
the routes its clients use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Route, compile_path, get_name

from tidings.api.models import ErrorOut

# What every route answers besides its own: a request it refuses (400) and
# missing or bad credentials (401).
COMMON_ANSWERS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorOut},
                                                   401: {"model": ErrorOut}}

_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}


def _by_reference(answers: dict[int | str, dict[str, Any]] | None
                  ) -> dict[int | str, dict[str, Any]]:
    """The answers with ``ErrorOut`` named by reference: what FastAPI writes
    for the model (its keys in the same order), without building a field."""
    return {status: ({k: v for k, v in answer.items() if k != "model"}
                     | {"content": _ERROR_CONTENT}
                     if answer.get("model") is ErrorOut and "content" not in answer else answer)
            for status, answer in (answers or {}).items()}


# One route is built at a time in the process (the tests run several
# servers, each on a thread of its own, over the same routes); re-entrant
# for the building thread's own reads.
_BUILDING = threading.RLock()


class LazyRoute(APIRoute):
    """FastAPI's route, built by ``APIRoute.__init__`` when something it
    sets is first read, once per process."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        # What Starlette's matching and url_path_for read, as APIRoute sets it.
        self.path = path
        self.endpoint = endpoint
        name = options.get("name")
        self.name = get_name(endpoint) if name is None else name
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.methods = {method.upper() for method in options.get("methods") or ["GET"]}
        self.include_in_schema = options.get("include_in_schema", True)
        self._options = options
        self._building = False
        self._built = False

    def __getattr__(self, name: str) -> Any:
        # Only for what is not set: the rest of the route, built now.
        found = self.__dict__
        if name.startswith("__") or found.get("_built", True):
            raise AttributeError(name)
        with _BUILDING:
            if found["_building"]:  # the build itself reads what it has not set yet
                raise AttributeError(name)
            if not found["_built"]:
                found["_building"] = True
                try:
                    APIRoute.__init__(self, self.path, self.endpoint, **self._options)
                finally:
                    found["_building"] = False
                found["_built"] = True
        return object.__getattribute__(self, name)


class _Router(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], *,
                      responses: dict[int | str, dict[str, Any]] | None = None,
                      **options: Any) -> None:
        super().add_api_route(path, endpoint, responses=_by_reference(responses), **options)


def api_router(*, prefix: str = "", tags: list[str | Enum] | None = None,
               responses: dict[int | str, dict[str, Any]] | None = None,
               include_in_schema: bool = True) -> APIRouter:
    """A router whose routes are complete as declared (``add_routes``)."""
    return _Router(prefix=prefix, tags=tags, include_in_schema=include_in_schema,
                   responses=_by_reference({**COMMON_ANSWERS, **(responses or {})}),
                   route_class=LazyRoute)


def add_routes(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """The routers' routes, as they are, appended to the app's."""
    for router in routers:
        if not isinstance(router, _Router):
            raise ValueError(f"a router of {router.prefix or '/'} not made by api_router")
        for route in router.routes:
            # Only routes: an included router (FastAPI keeps it as one entry)
            # or a mount would be built again per app.
            if not isinstance(route, APIRoute | APIWebSocketRoute | Route):
                raise ValueError(f"{route!r} is not a route (include_router, a mount?)")
        app.router.routes.extend(router.routes)
