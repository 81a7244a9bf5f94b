"""The TypeScript SDK in a real page (headless Chromium) while the server
is killed (kill -9) and restarted under it: the page goes on sending through
the outage, and afterwards every message it had acked is stored once, every
send in flight went again with its id (stored once), and the peer's
messages reach the page once each, in seq order (what the Node tests check
in Node, here with the browser's own WebSocket and the bundle)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.clients.conftest import CHROMIUM
from tests.clients.control import control_server
from tests.clients.node import NODE, NPM, PACKAGE, ensure_ready
from tests.support import Server

pytestmark = pytest.mark.skipif(CHROMIUM is None or NODE is None or NPM is None,
                                reason="Chromium or Node.js is not installed")

PAGE = """<!doctype html><meta charset="utf-8"><title>idle</title><script type="module">
import { Client } from "/tidings.browser.js";
const q = new URLSearchParams(location.search);
const [me, peer] = [q.get("me"), q.get("peer")];
window.received = [];
window.acks = [];
const client = new Client({
  url: q.get("ws"), sdkappid: Number(q.get("app")), userId: me,
  getUserSig: async () => (await fetch(`/usersig?user=${me}`)).text(),
  backoffInitial: 100, backoffMax: 800, sendTimeout: 60000,
});
client.on("message", (m) => window.received.push([m.seq, m.elements[0].text]));
window.states = [];
client.on("state", (state) => { document.title = state; window.states.push(state); });
window.sendMany = async (from, to, pause = 0) => {
  for (let i = from; i < to; i++) {
    const ack = await client.sendText(`c2c_${peer}`, `a${i}`);
    window.acks.push([ack.seq, `a${i}`, ack.duplicate]);
    if (pause) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  return window.acks.length;
};
await client.connect();
</script>"""


def history(http: Any, conversation_id: str) -> list[tuple[int, str]]:
    got = http.get(f"/v1/conversations/{conversation_id}/messages", params={"limit": 100})
    assert got.status_code == 200, got.text
    return [(m["seq"], m["elements"][0]["text"]) for m in got.json()["messages"]]


@pytest.mark.process_server("kill -9 under an open page: only a process can be killed")
def test_a_page_sends_through_a_server_killed_and_restarted_nothing_lost_nothing_twice(
        make_server: Callable[..., Server], backend: str, browser: Browser) -> None:
    if backend != "sqlite":
        pytest.skip("the browser part does not depend on the store; once is enough")
    ensure_ready()
    server = make_server()
    app = server.create_app()
    tag = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    files: dict[str, Path | bytes] = {"/page.html": PAGE.encode(),
             "/tidings.browser.js": PACKAGE / "dist" / "tidings.browser.js"}
    errors: list[str] = []

    def from_bob(text: str) -> None:
        with server.http(app, bob) as http:
            sent = http.post("/v1/messages", json={
                "conversation_id": f"c2c_{alice}", "client_msg_id": f"b-{text}",
                "elements": [{"type": "text", "text": text}]})
            assert sent.status_code == 200, sent.text

    with control_server(server, app, files) as control:
        page = browser.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{control}/page.html?me={alice}&peer={bob}&ws={server.ws_url}"
                      f"&app={app.sdkappid}")
            expect(page).to_have_title("connected", timeout=30_000)
            assert page.evaluate("sendMany(0, 5)") == 5
            from_bob("b1")
            page.wait_for_function("window.received.length === 1", timeout=15_000)
            # Sends go on in the page while the server dies and comes back
            # (paced: a fast server acked all 25 before the kill took hold).
            page.evaluate("window.running = sendMany(5, 30, 50); undefined")
            page.wait_for_function("window.acks.length >= 8", timeout=15_000)
            server.kill9()
            expect(page).not_to_have_title("connected", timeout=15_000)
            acked_before = page.evaluate("window.acks.length")
            server.start()
            from_bob("b2")
            from_bob("b3")
            assert page.evaluate("window.running") == 30
            page.wait_for_function("window.received.length >= 3", timeout=30_000)
            acks = page.evaluate("window.acks")
            received = page.evaluate("window.received")
            states = page.evaluate("window.states")
        finally:
            page.close()
    assert errors == [], errors
    # The sends spanned the outage: some were acked only after the restart.
    assert acked_before < 30 and states.count("connected") >= 2, (acked_before, states)
    with server.http(app, bob) as http:
        stored = history(http, f"c2c_{alice}")
    texts = [text for _, text in stored]
    # Every send stored exactly once (one retried across the restart is its
    # first ack, not a second message), in the order the page sent them.
    assert [t for t in texts if t.startswith("a")] == [f"a{i}" for i in range(30)]
    assert sorted(t for t in texts if t.startswith("b")) == ["b1", "b2", "b3"]
    assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
    # Each ack names the message stored under that seq.
    assert {seq: text for seq, text, _ in acks}.items() <= dict(stored).items()
    assert len({seq for seq, _, _ in acks}) == 30
    # The page got bob's messages once each, in seq order.
    assert [text for _, text in received] == ["b1", "b2", "b3"]
    assert [seq for seq, _ in received] == sorted(seq for seq, _ in received)
