"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with their scripts and
styles served by this server, from the pinned ``fastapi-offline`` package,
instead of FastAPI's defaults, which load them (and web fonts) from a CDN:
the pages work on a machine with no internet."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from tidings.api import openapi_doc

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"

# The pages load nothing from elsewhere: ReDoc's footer logo, which its
# script fetches from its vendor's CDN whatever its options, is blocked (it
# hides itself), and so is anything else a future version might add.
# Inline script and style are the pages' own (their config and the styles
# the two libraries inject); ReDoc's search runs in a blob: worker.
_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")


def install(app: FastAPI) -> None:
    """Serve the two pages and their assets (the app is made with
    ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    spec = openapi_doc.URL

    def urls(request: Request) -> tuple[str, str]:
        """The spec's URL and the assets' (behind a proxy's root path too)."""
        root = request.scope.get("root_path", "")
        return root + spec, root + ASSETS_URL

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        openapi, assets = urls(request)
        return _sealed(get_swagger_ui_html(
            openapi_url=openapi, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png"))

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        openapi, assets = urls(request)
        return _sealed(get_redoc_html(
            openapi_url=openapi, title=f"{app.title} - ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png", with_google_fonts=False))


def _sealed(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = _CSP
    return page
