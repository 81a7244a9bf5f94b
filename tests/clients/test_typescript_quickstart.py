"""The TypeScript SDK's README quick-start, as written, in a real browser
(headless Chromium driven by Playwright, as for Tidings' own pages): the
page loads the browser bundle, fetches a UserSig from "the app's server",
connects, sends, and shows what the peer sends back."""

from __future__ import annotations

import re
import shutil
import uuid

import pytest
from playwright.sync_api import sync_playwright

from tests.clients.control import control_server
from tests.clients.node import NODE, NPM, PACKAGE, ensure_ready
from tests.support import App, Server

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None or NODE is None or NPM is None,
                                reason="Chromium or Node.js is not installed")


def quickstart() -> str:
    """The first JavaScript block of the package's README."""
    readme = (PACKAGE / "README.md").read_text()
    found = re.search(r"```js\n(.*?)```", readme, re.S)
    assert found is not None, "the README has no quick-start"
    return found.group(1)


def page_of(server: Server, app: App, alice: str, bob: str) -> bytes:
    code = quickstart()
    assert code.count("\n") <= 10, "the quick-start is ten lines at most"
    for placeholder, value in (('"tidings-client"', '"/tidings.browser.js"'),
                               ("ws://127.0.0.1:8080/v1/ws", server.ws_url),
                               ("1400000000", str(app.sdkappid)),
                               ("alice", alice), ("bob", bob)):
        assert placeholder in code, placeholder
        code = code.replace(placeholder, value)
    return f'<!doctype html><meta charset="utf-8"><script type="module">\n{code}</script>'.encode()


def test_the_readme_quickstart_chats_in_a_browser(server: Server, app: App) -> None:
    if server.database_url:
        pytest.skip("the browser part does not depend on the store; once is enough")
    ensure_ready()
    tag = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    files = {"/quickstart.html": page_of(server, app, alice, bob),
             "/tidings.browser.js": PACKAGE / "dist" / "tidings.browser.js"}
    errors: list[str] = []
    with control_server(server, app, files) as control, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"])
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            with page.expect_console_message(lambda m: m.text.startswith("stored as seq"),
                                             timeout=15_000) as stored:
                page.goto(f"{control}/quickstart.html")
            assert stored.value.text == "stored as seq 1", errors
            with server.http(app, bob) as http:
                got = http.get(f"/v1/conversations/c2c_{alice}/messages").json()
                assert [m["elements"][0]["text"] for m in got["messages"]] == [f"hi {bob}"]
                with page.expect_console_message(lambda m: m.text.startswith(bob),
                                                 timeout=15_000) as received:
                    sent = http.post("/v1/messages", json={
                        "conversation_id": f"c2c_{alice}", "client_msg_id": "back-1",
                        "elements": [{"type": "text", "text": "hi alice"}]})
                    assert sent.status_code == 200, sent.text
            assert received.value.text == f'{bob} [{{"type":"text","text":"hi alice"}}]'
        finally:
            browser.close()
    assert errors == [], errors
