"""The web messenger at ``/`` (docs/messenger.md) and the operator console
at ``/console`` (docs/console.md): their pages and the
content-hashed assets that ``clients/web`` builds into the package
(``src/tidings/web/static/``), so that a wheel or an editable install serves
it on a machine without Node. ``/sw.js`` is its service worker (Web Push
notifications), at a fixed URL.

The files are read once, at import: the set of asset names is fixed, so a
request names one of them or gets the usual JSON 404, and nothing from the
URL ever reaches the filesystem. The page runs only its own script and style
(a strict Content-Security-Policy, as the link page's) and talks only to this
server (``connect-src 'self'`` covers the same-origin WebSocket).

The link URL an app hands its user, ``/l/{sdkappid}?ticket=...``, is the
same page: the messenger reads the ticket from its own URL and runs the link
flow (docs/linked-identity.md). The ticket is worth protecting, so that page
is never stored and never sends a Referer.
"""

from __future__ import annotations

import mimetypes
from importlib.resources import files
from importlib.resources.abc import Traversable

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response

from tidings.api.routers import api_router

router = api_router(include_in_schema=False)
# The link URL is part of the API an app builds on: it is in the OpenAPI document.
link_router = api_router(tags=["links"])

_STATIC = files("tidings") / "web" / "static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self' https: data: blob:; media-src 'self' https: blob:; "
       "connect-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")

# index.html names the assets of its build, so it is checked on every load;
# an asset's name changes with its content, so it is kept for a year.
_PAGE_HEADERS = {"Cache-Control": "no-cache", "Content-Security-Policy": CSP,
                 "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                 "X-Content-Type-Options": "nosniff"}
# The link URL carries a ticket: kept nowhere, never in a Referer.
_LINK_HEADERS = {**_PAGE_HEADERS, "Cache-Control": "no-store"}
_ASSET_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable",
                  "X-Content-Type-Options": "nosniff"}


def _assets(folder: Traversable) -> dict[str, tuple[bytes, str]]:
    found: dict[str, tuple[bytes, str]] = {}
    if folder.is_dir():
        for item in folder.iterdir():
            if item.is_file():
                kind = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
                found[item.name] = (item.read_bytes(), kind)
    return found


# The service worker keeps its URL (the browser re-checks it on navigation):
# never cached, its scope the whole site, and under the page's CSP, which
# holds for what a worker fetches and runs.
_WORKER_HEADERS = {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/",
                   "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}


def _page(name: str) -> bytes | None:
    return (_STATIC / name).read_bytes() if (_STATIC / name).is_file() else None


_INDEX = _page("index.html")
# The operator console (docs/console.md): a page of its own, with the same
# headers; it keeps its sign-in in the tab's sessionStorage, never in a URL.
_CONSOLE = _page("console.html")
_WORKER = _page("sw.js")
_ASSETS = _assets(_STATIC / "assets")


@router.get("/")
async def messenger() -> Response:
    if _INDEX is None:
        raise HTTPException(404, "the web messenger is not built (clients/web: npm run build)")
    return HTMLResponse(_INDEX, headers=_PAGE_HEADERS)


@link_router.get("/l/{sdkappid}", response_class=HTMLResponse)
async def link_url(sdkappid: int) -> Response:
    """The link URL an app hands its user (``?ticket=...&to=...&action=chat``):
    the web messenger, which signs in (or registers) when the browser holds
    no home session, previews the link (``POST /v1/links/preview``), asks
    once, confirms (``POST /v1/links``) and opens the conversation. The
    ticket is read by the page, never by this route; never stored, no Referer."""
    if _INDEX is None:
        raise HTTPException(404, "the web messenger is not built (clients/web: npm run build)")
    return HTMLResponse(_INDEX, headers=_LINK_HEADERS)


@router.get("/console")
async def console() -> Response:
    if _CONSOLE is None:
        raise HTTPException(404, "the console is not built (clients/web: npm run build)")
    return HTMLResponse(_CONSOLE, headers=_PAGE_HEADERS)


@router.get("/sw.js")
async def service_worker() -> Response:
    if _WORKER is None:
        raise HTTPException(404, "the web messenger is not built (clients/web: npm run build)")
    return Response(_WORKER, media_type="text/javascript", headers=_WORKER_HEADERS)


@router.get("/assets/{name}")
async def asset(name: str) -> Response:
    found = _ASSETS.get(name)
    if found is None:
        raise HTTPException(404, "no such asset")
    body, kind = found
    return Response(body, media_type=kind, headers=_ASSET_HEADERS)
