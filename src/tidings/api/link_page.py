"""The link URL, ``/l/{sdkappid}?ticket=...&to=...&action=chat``: a small
page of Tidings' own that drives the link REST calls (docs/linked-identity.md).
The web messenger will take it over later.

The page (pages/link.html) holds no data of its own: it reads the ticket
from its URL and the home UserSig from the browser's storage, and shows only
what the server answers, as text (never as HTML). Someone not signed in
signs in on the page (password, or a one-time code, which registers a new
person) through ``/v1/home``, and the same link carries on. The ticket is in
the URL, so the page is never cached and never sends a Referer.
"""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files

from fastapi import APIRouter
from starlette.responses import HTMLResponse

router = APIRouter(tags=["links"])

# Where a signed-in messenger keeps its home UserSig in the browser.
USERSIG_STORAGE_KEY = "tidings.home.usersig"

# Read once: the page is static, and the key it keeps the UserSig under is
# filled in here so that the Python and the script cannot disagree.
_PAGE = (files("tidings.api") / "pages" / "link.html").read_text(encoding="utf-8").replace(
    "__KEY__", USERSIG_STORAGE_KEY)


def _digest(tag: str) -> str:
    """The CSP hash of the page's one inline ``<tag>``."""
    body = _PAGE.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"


# Only the page's own script and style run, it talks only to this server,
# and nothing may frame it: the ticket in its URL is worth protecting.
_CSP = (f"default-src 'none'; script-src {_digest('script')}; style-src {_digest('style')}; "
        "img-src https: http: data:; connect-src 'self'; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'")


@router.get("/l/{sdkappid}", response_class=HTMLResponse)
async def link_page(sdkappid: int) -> HTMLResponse:
    """The link URL an app hands its user: a page that signs in to Tidings
    when the browser holds no home UserSig (or an ended one), previews the
    link (``POST /v1/links/preview``), asks once, and confirms (``POST
    /v1/links``)."""
    return HTMLResponse(_PAGE, headers={"Cache-Control": "no-store",
                                        "Referrer-Policy": "no-referrer",
                                        "X-Frame-Options": "DENY",
                                        "Content-Security-Policy": _CSP})
