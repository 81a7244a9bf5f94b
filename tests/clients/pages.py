"""What the messenger's browser test modules share: one SQLite server per
module (the pages do not depend on the store), the two screen sizes, and a
person registering in a fresh browser context."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import new_server
from tests.support import Server

PASSWORD = "correct horse 1"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def serve(factory: pytest.TempPathFactory, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A module's server (wrap it in a module fixture)."""
    server = new_server(factory.mktemp("server"), "", env)
    server.start()
    yield server
    server.stop()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def open_page(browser: Browser, web: Server, size: dict[str, int] = DESKTOP, *,
              init: str = "", notifications: bool = False) -> tuple[BrowserContext, Page]:
    """A new context (its own storage) at the messenger; ``init``: a script
    run before the page's own in every page of the context."""
    context = browser.new_context(viewport=size)
    if notifications:
        context.grant_permissions(["notifications"], origin=web.base_url)
    if init:
        context.add_init_script(script=init)
    page = context.new_page()
    page.goto(f"{web.base_url}/")
    return context, page


def register(page: Page, username: str) -> None:
    page.get_by_role("button", name="New here? Create an account").click()
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Chats")).to_be_visible(timeout=30_000)
