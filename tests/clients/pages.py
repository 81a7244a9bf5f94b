"""What the messenger's browser test modules share: one SQLite server per
module (the pages do not depend on the store), the two screen sizes, and a
person registering in a fresh browser context."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
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


# Wraps the page's WebSocket so that frames matching `window.heldFrames.hold`
# wait in the page until `window.heldFrames.release()`, which hands them to
# the SDK in the same task as the caller's other steps (a route's frames
# arrive in tasks of their own).
HOLD_FRAMES = """
(() => {
  const held = { hold: null, frames: [], release() {
    for (const [handler, event] of this.frames.splice(0)) handler(event);
  } };
  window.heldFrames = held;
  const Real = window.WebSocket;
  window.WebSocket = class extends Real {
    set onmessage(handler) {
      super.onmessage = handler && ((event) => {
        if (held.hold && held.hold.test(event.data)) held.frames.push([handler, event]);
        else handler(event);
      });
    }
    get onmessage() { return super.onmessage; }
  };
})();
"""


def register(page: Page, username: str) -> None:
    page.get_by_role("button", name="New here? Create an account").click()
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Chats")).to_be_visible(timeout=30_000)


def make_account(web: Server, username: str) -> None:
    """A home account (display name: its username) made over REST, for a
    peer no browser needs to show."""
    with httpx.Client(base_url=web.base_url) as http:
        me = http.post("/v1/home/register", json={"username": username, "password": PASSWORD})
        assert me.status_code == 200, me.text
        named = http.patch("/v1/home/me", json={"display_name": username},
                           headers={"authorization": f"Bearer {me.json()['usersig']}"})
        assert named.status_code == 200, named.text


def start_chat(page: Page, username: str, text: str) -> None:
    """Starts a chat by username (the mouse's way) and sends ``text``."""
    page.get_by_label("Start a chat with (username)").fill(username)
    page.get_by_role("button", name="Start").click()
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".messages li.mine .text").last).to_have_text(text)


# The focused element's ring: its outline, as the page draws it.
_RING = """() => { const s = getComputedStyle(document.activeElement);
  return s.outlineStyle === "none" ? 0 : parseFloat(s.outlineWidth); }"""


def focused(page: Page) -> str:
    """The focused element, as its id, label or text (for messages)."""
    return str(page.evaluate(
        "() => { const e = document.activeElement; return e ? (e.id || e.getAttribute('aria-label')"
        " || e.textContent || e.tagName).trim() : '' }"))


def tab_to(page: Page, matches: str, *, back: bool = False, limit: int = 30) -> None:
    """Presses Tab (Shift+Tab) until the focused element matches the
    selector; each control on the way shows a focus ring."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("() => document.activeElement !== document.body"):
            assert page.evaluate(_RING) >= 2, f"no visible focus on {focused(page)!r}"
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", matches):
            return
    raise AssertionError(f"Tab never reached {matches} (at {focused(page)!r})")
