"""``/docs`` (Swagger UI) and ``/redoc`` render the API's operations in a
real browser with no network beyond the server (issue 17, point 6): their
scripts, styles and fonts come from the server, never from a CDN. Every
request to another origin is blocked, and recorded: there must be none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser import chromium, needs_chromium
from tests.support import Server

pytestmark = [needs_chromium,
              # The pages are the same on every backend.
              pytest.mark.parametrize("backend", ["sqlite"])]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def offline_page(browser: Browser, make_server: object) -> Iterator[tuple[Page, Server, list[str]]]:
    server: Server = make_server()  # type: ignore[operator]
    context = browser.new_context()
    elsewhere: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(server.base_url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_the_server)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page, server, elsewhere
    context.close()
    assert errors == [], errors


def test_swagger_ui_renders_the_operations_offline(
        offline_page: tuple[Page, Server, list[str]]) -> None:
    page, server, elsewhere = offline_page
    page.goto(f"{server.base_url}/docs")
    expect(page.locator(".opblock-summary-path[data-path='/v1/messages']").first).to_be_visible(
        timeout=60_000)
    assert page.locator(".opblock").count() > 50
    assert elsewhere == []


def test_redoc_renders_the_operations_offline(
        offline_page: tuple[Page, Server, list[str]]) -> None:
    page, server, elsewhere = offline_page
    page.goto(f"{server.base_url}/redoc")
    expect(page.get_by_text("/v1/admin/messages", exact=False).first).to_be_attached(
        timeout=60_000)
    expect(page.locator("h1").first).to_contain_text("Tidings")
    assert elsewhere == []
