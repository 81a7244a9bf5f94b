"""The TypeScript SDK's README quick-start and docs/typescript-sdk.md's
plain-page chat, as written, in a real browser (headless Chromium driven by
Playwright, as for Tidings' own pages): each page loads the browser bundle,
fetches a UserSig from "the app's server", connects, sends, and shows what
the peer sends."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, expect

from tests.clients.conftest import CHROMIUM
from tests.clients.control import control_server
from tests.clients.node import NODE, NPM, PACKAGE, ensure_ready
from tests.support import App, Server

pytestmark = pytest.mark.skipif(CHROMIUM is None or NODE is None or NPM is None,
                                reason="Chromium or Node.js is not installed")


def block(path: str, language: str) -> str:
    """The first code block of ``language`` in a markdown file."""
    found = re.search(rf"```{language}\n(.*?)```", (PACKAGE.parents[1] / path).read_text(), re.S)
    assert found is not None, f"{path} has no {language} block"
    return found.group(1)


def quickstart() -> str:
    return block("clients/typescript/README.md", "js")


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


def test_the_readme_quickstart_chats_in_a_browser(server: Server, app: App,
                                                  browser: Browser) -> None:
    if server.database_url:
        pytest.skip("the browser part does not depend on the store; once is enough")
    ensure_ready()
    tag = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    files = {"/quickstart.html": page_of(server, app, alice, bob),
             "/tidings.browser.js": PACKAGE / "dist" / "tidings.browser.js"}
    errors: list[str] = []
    with control_server(server, app, files) as control:
        page = browser.new_page()
        try:
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
            page.close()
    assert errors == [], errors


def test_the_docs_plain_page_chat_works_as_written(server: Server, app: App,
                                                    browser: Browser) -> None:
    if server.database_url:
        pytest.skip("the browser part does not depend on the store; once is enough")
    ensure_ready()
    tag = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    html = block("docs/typescript-sdk.md", "html")
    for placeholder, value in (("wss://chat.example.org/v1/ws", server.ws_url),
                               ("1400000000", str(app.sdkappid)),
                               ('"alice"', f'"{alice}"'), ('"c2c_bob"', f'"c2c_{bob}"')):
        assert placeholder in html, placeholder
        html = html.replace(placeholder, value)
    files = {"/chat.html": html.encode(),
             "/tidings.browser.js": PACKAGE / "dist" / "tidings.browser.js"}
    with server.http(app, bob) as http, control_server(server, app, files) as control:
        def from_bob(text: str, cid: str) -> None:
            sent = http.post("/v1/messages", json={
                "conversation_id": f"c2c_{alice}", "client_msg_id": cid,
                "elements": [{"type": "text", "text": text}]})
            assert sent.status_code == 200, sent.text

        from_bob("before you came", "b-1")
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{control}/chat.html")
            expect(page).to_have_title("connected", timeout=15_000)
            log = page.locator("#log li")
            expect(log).to_have_text([f"{bob}: before you came"])
            page.fill("#text", "<b>hello</b>")
            page.click("#send button")
            expect(log).to_have_text([f"{bob}: before you came", f"{alice}: <b>hello</b>"])
            from_bob("hi alice", "b-2")
            expect(log).to_have_text([f"{bob}: before you came", f"{alice}: <b>hello</b>",
                                      f"{bob}: hi alice"], timeout=15_000)
        finally:
            page.close()
        got = http.get(f"/v1/conversations/c2c_{alice}/messages").json()
        assert [m["elements"][0]["text"] for m in got["messages"]] == [
            "before you came", "<b>hello</b>", "hi alice"]
    assert errors == [], errors
