"""``/`` serves the web messenger (and ``/console`` the console) from the
package: the page with a strict Content-Security-Policy that is checked on
every load, the hashed assets it names cached for a year, the service worker
at /sw.js (its scope the whole site, never cached), and nothing else under
/assets (a JSON 404)."""

from __future__ import annotations

import re

import pytest

from tests.support import Server


@pytest.mark.parametrize("path", ["/", "/console"])
def test_the_page_and_its_assets(server: Server, path: str) -> None:
    """The messenger, and the operator console (docs/console.md) alike."""
    with server.http() as http:
        page = http.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "default-src 'none'" in csp
        assert "unsafe" not in csp and "frame-ancestors 'none'" in csp
        names = re.findall(r'"/assets/([^"]+)"', page.text)
        assert sorted(n.rsplit(".", 1)[1] for n in names) == ["css", "js"]
        for name in names:
            asset = http.get(f"/assets/{name}")
            assert asset.status_code == 200 and asset.content
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        kinds = {n.rsplit(".", 1)[1]: http.get(f"/assets/{n}").headers["content-type"]
                 for n in names}
        assert kinds["js"].startswith(("text/javascript", "application/javascript"))
        assert kinds["css"].startswith("text/css")


def test_an_unknown_asset_is_a_json_404(server: Server) -> None:
    with server.http() as http:
        for path in ("/assets/nope.js", "/assets/..%2Fpyproject.toml", "/assets/"):
            reply = http.get(path)
            assert reply.status_code == 404, path
            assert reply.json()["error"]["name"] == "not_found", path


def test_the_service_worker_is_served_at_a_fixed_url_for_the_whole_site(server: Server) -> None:
    with server.http() as http:
        worker = http.get("/sw.js")
        assert worker.status_code == 200
        assert worker.headers["content-type"].startswith("text/javascript")
        # Its scope may be the whole site; never cached, so an update is seen.
        assert worker.headers["service-worker-allowed"] == "/"
        assert worker.headers["cache-control"] == "no-cache"
        csp = worker.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "unsafe" not in csp
        # The built worker: it shows pushes and opens a clicked conversation.
        assert b"showNotification" in worker.content and b"notificationclick" in worker.content
        assert http.get("/sw.js.map").status_code == 404
