"""``GET /livez`` and ``GET /readyz`` for load balancers and orchestrators
(docs/rest.md, docs/cluster.md): no authentication, cheap, and logged at
debug only (api/access_log.py).

``/livez`` is answered by the event loop itself: if it answers, the process
is alive (a stuck loop answers nothing, and the orchestrator restarts it).
``/readyz`` says whether to send this process traffic (services/health.py):
503 while its database or Redis does not answer, its migrations are behind,
or it is draining."""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from tidings.api.auth import runtime_of
from tidings.api.routers import api_router

router = api_router(tags=["ops"])


class Live(BaseModel):
    status: Literal["alive"] = "alive"


class Ready(BaseModel):
    status: Literal["ready", "not_ready"] = Field(examples=["not_ready"])
    # What is not ready, by name (empty when ready).
    not_ready: list[str] = Field(examples=[["draining"]])
    # Each part's state: "ok", or why not.
    checks: dict[str, str] = Field(examples=[{
        "database": "ok", "migrations": "ok", "redis": "ok",
        "draining": "draining: stopping on SIGTERM"}])


@router.get("/livez", response_model=Live, summary="Liveness: the event loop answers")
async def livez() -> Live:
    return Live()


@router.get("/readyz", response_model=Ready, summary="Readiness: send this process traffic?",
            responses={503: {"model": Ready, "description": "Not ready: `not_ready` says what"}})
async def readyz(request: Request) -> JSONResponse:
    checks = await runtime_of(request).health.checks()
    failing = [name for name, state in checks.items() if state != "ok"]
    ready = Ready(status="not_ready" if failing else "ready", not_ready=failing, checks=checks)
    return JSONResponse(ready.model_dump(), status_code=503 if failing else 200,
                        headers={"cache-control": "no-store"})
