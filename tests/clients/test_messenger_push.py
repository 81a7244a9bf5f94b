"""Web Push in the messenger, in headless Chromium, as far as it can be real
on a machine without the internet:

- the service worker (/sw.js) registers with the scope /;
- the "Notifications" switch asks for permission and subscribes; Chromium
  here has no push service to subscribe with (its own is Google's FCM), so
  ``pushManager.subscribe`` fails and the switch says so and stays off;
- with ``pushManager.subscribe`` standing for that push service (an init
  script that answers with a subscription whose keys the test holds, its
  endpoint a local HTTP server), the messenger registers it with the server;
  a hidden tab says it is in the background and is pushed while connected;
  the person closes the tab, a message comes, and the server sends a real
  Web Push request (RFC 8291 aes128gcm, VAPID signed) that the test decrypts
  with the subscription's keys;
- those decrypted bytes, delivered to the worker through the DevTools
  protocol (``ServiceWorker.deliverPushMessage``), show a notification with
  the sender's name and the text; a click on it opens the conversation in
  the open tab, or a new tab at /?c=<conversation id>.

No user clicks a real notification in headless Chromium: the click is a
``notificationclick`` event dispatched in the worker, whose ``waitUntil``
the test stands in for (a synthetic event may not call the real one), and
Chromium refuses ``focus``/``openWindow`` without the user's click, so the
no-tab case records the URL the worker opens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Worker, expect
from playwright.sync_api import Error as PlaywrightError

from tests.app_server import AppServer, Call, Reply
from tests.browser import chromium, needs_chromium
from tests.clients.axe import assert_accessible
from tests.clients.pages import open_page, register, serve, start_chat, unique
from tests.push_support import FAST, calls_to
from tests.push_support import Browser as Subscription
from tests.support import Server

pytestmark = needs_chromium

# pushManager.subscribe standing for the browser's push service: answers with
# the subscription the test made (its keys decrypt what the server sends).
FAKE_PUSH_SERVICE = """(() => {
  const json = %s;
  const subscription = { endpoint: json.endpoint, expirationTime: null, toJSON: () => json,
    unsubscribe: async () => { localStorage.removeItem("test.subscribed"); return true; },
    getKey: () => null };
  PushManager.prototype.subscribe = async () => {
    localStorage.setItem("test.subscribed", "1"); return subscription; };
  PushManager.prototype.getSubscription = async () =>
    localStorage.getItem("test.subscribed") ? subscription : null;
})();"""

# A click on the worker's notification for `tag`; resolves with what the
# handler did ("ok", or the error it ended with), the URL it opened (when
# `recordOpen`) and how many notifications are left.
CLICK = """async ([tag, recordOpen]) => {
  const [note] = await self.registration.getNotifications({ tag });
  let opened = null;
  if (recordOpen) self.clients.openWindow = async (url) => { opened = url; return null; };
  const event = new NotificationEvent("notificationclick", { notification: note });
  const waits = [];
  Object.defineProperty(event, "waitUntil", { value: (p) => waits.push(p) });
  self.dispatchEvent(event);
  let result = "ok";
  try { await Promise.all(waits); } catch (e) { result = e.name; }
  return { result, opened, left: (await self.registration.getNotifications()).length };
}"""


@pytest.fixture(scope="module")
def services() -> Iterator[AppServer]:
    s = AppServer().start()
    s.answer(lambda call: Reply(201, b""))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, services: AppServer) -> Iterator[Server]:
    yield from serve(tmp_path_factory, FAST)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


def person(browser: Browser, web: Server, name: str, init: str = "") -> tuple[BrowserContext, Page]:
    context, page = open_page(browser, web, init=init, notifications=True)
    register(page, name)
    return context, page


def registration_id(cdp: CDPSession, page: Page) -> str:
    found: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: found.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    for _ in range(50):
        if found:
            break
        page.wait_for_timeout(100)
    [live] = [r for r in found if not r["isDeleted"]]
    return str(live["registrationId"])


# The notifications once one has this body (a newer one replaced the last),
# or [] after 5 s.
WAIT_FOR_BODY = """async (body) => { for (let i = 0; i < 100; i++) {
  const found = await self.registration.getNotifications();
  if (found.some((n) => n.body === body)) return found.map((n) => ({ title: n.title,
    body: n.body, tag: n.tag, renotify: n.renotify, data: n.data }));
  await new Promise((r) => setTimeout(r, 50)); } return []; }"""


def answered(page: Page, frames: list[str], text: str) -> None:
    """Waits for a frame the page received on its socket with ``text``."""
    for _ in range(150):
        if any(text in f for f in frames):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no frame with {text}: {frames[-5:]}")


def wait_for_pushes(services: AppServer, path: str, count: int, page: Page) -> list[Call]:
    for _ in range(150):
        found = calls_to(services, path)
        if len(found) >= count:
            return found
        page.wait_for_timeout(100)
    raise AssertionError(f"{len(calls_to(services, path))} pushes to {path}, wanted {count}")


def in_worker(context: BrowserContext, script: str, arg: Any = None) -> Any:
    """Evaluates in the messenger's service worker: the newest one, since
    Chromium stops an idle worker and starts it again for the next event."""
    for attempt in range(3):
        workers: list[Worker] = []
        for _ in range(100):
            workers = [w for w in context.service_workers if w.url.endswith("/sw.js")]
            if workers:
                break
            context.pages[0].wait_for_timeout(100)
        assert workers, "no service worker running"
        try:
            return workers[-1].evaluate(script, arg)
        except PlaywrightError as exc:
            if attempt == 2 or "closed" not in str(exc).lower():
                raise
    raise AssertionError("unreachable")


def test_the_worker_registers_and_the_switch_says_when_there_is_no_push_service(
        web: Server, browser: Browser) -> None:
    context, page = person(browser, web, unique("ana"))
    try:
        scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
        assert scope == f"{web.base_url}/"
        switch = page.get_by_role("switch", name="Notifications")
        expect(switch).not_to_be_checked()
        switch.click()
        # No push service here: said plainly, and the switch stays off.
        expect(page.get_by_role("alert")).to_contain_text("Notifications could not be turned on")
        expect(switch).not_to_be_checked()
        assert_accessible(page, "the Notifications switch with its error")
        assert page.evaluate("async () => (await (await navigator.serviceWorker.ready)"
                             ".pushManager.getSubscription()) === null")
    finally:
        context.close()


def test_a_push_to_a_closed_tab_shows_a_notification_that_opens_the_chat(
        web: Server, browser: Browser, services: AppServer) -> None:
    subscription = Subscription.new(services)
    ana_name, ben_name = unique("ana"), unique("ben")
    ana_ctx, ana = person(browser, web, ana_name)
    ben_ctx, ben = person(browser, web, ben_name,
                          FAKE_PUSH_SERVICE % json.dumps(subscription.subscription()))
    try:
        switch = ben.get_by_role("switch", name="Notifications")
        switch.click()
        expect(switch).to_be_checked()
        # Still on after a reload (the browser's subscription is kept).
        frames: list[str] = []
        ben.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
        ben.reload()
        expect(ben.get_by_role("switch", name="Notifications")).to_be_checked(timeout=15_000)

        # A hidden tab tells the server it is in the background: it is pushed
        # what it cannot show, while still connected.
        answered(ben, frames, '"server_time"')  # logged in (the answer to login)
        ben.evaluate("""() => { Object.defineProperty(document, "visibilityState",
            { value: "hidden", configurable: true });
          document.dispatchEvent(new Event("visibilitychange")); }""")
        answered(ben, frames, '"state":"background"')
        start_chat(ana, ben_name, "are you up?")
        [hidden] = wait_for_pushes(services, subscription.path, 1, ben)
        first = subscription.read(hidden)
        assert first["body"] == f"{ana_name}: are you up?"

        # "Hide the text": the device is registered again, private.
        ben.get_by_role("checkbox", name="Hide the text in notifications").check()
        answered(ben, frames, '"private_previews":true')
        # One registration for this browser, across the reload: private.
        devices = ben.evaluate("""async () => (await (await fetch("/v1/push/devices", {
            headers: { authorization: `Bearer ${localStorage.getItem("tidings.home.usersig")}` },
          })).json())""")
        assert [(d["channel"], d["private_previews"]) for d in devices["devices"]] == [
            ("webpush", True)], devices

        # Ben closes the messenger (a blank tab stays, for the DevTools protocol).
        blank = ben_ctx.new_page()
        cdp = ben_ctx.new_cdp_session(ben)
        registration = registration_id(cdp, ben)
        ben.close()
        ana.get_by_label("Message").fill("dinner at 8?")
        ana.get_by_role("button", name="Send").click()

        # The server's Web Push request, decrypted with the subscription's keys.
        call = wait_for_pushes(services, subscription.path, 2, blank)[1]
        assert call.headers["authorization"].startswith("vapid t=")
        payload = subscription.read(call)
        assert payload["body"] == "New message"  # private: not the text
        cid = str(payload["conversation_id"])  # c2c_<ana's user id>
        assert cid.startswith("c2c_") and payload["msg_id"]

        # Delivered to the worker as the browser would after decrypting it:
        # the sender's name and text, then the private one in its place.
        blank_cdp = ben_ctx.new_cdp_session(blank)
        blank_cdp.send("ServiceWorker.enable")

        def deliver(note: dict[str, Any]) -> list[dict[str, Any]]:
            """The notifications once this push shows. Delivered again when
            none shows: a delivery through the DevTools protocol was seen to
            vanish now and then on a loaded machine (not a push service's)."""
            for _ in range(3):
                blank_cdp.send("ServiceWorker.deliverPushMessage", {
                    "origin": web.base_url, "registrationId": registration,
                    "data": json.dumps(note)})
                found: list[dict[str, Any]] = in_worker(ben_ctx, WAIT_FOR_BODY, note["body"])
                if found:
                    return found
            raise AssertionError(f"no notification for {note}")

        assert deliver(first) == [
            {"title": "Tidings", "body": f"{ana_name}: are you up?", "tag": cid, "renotify": True,
             "data": {"conversation_id": cid, "msg_id": first["msg_id"]}}]
        assert deliver(payload) == [
            {"title": "Tidings", "body": "New message", "tag": cid, "renotify": True,
             "data": {"conversation_id": cid, "msg_id": payload["msg_id"]}}]

        # A click with no messenger tab open opens one at the conversation...
        opened = f"{web.base_url}/?c={cid}"
        assert in_worker(ben_ctx, CLICK, [cid, True]) == {"result": "ok", "opened": opened,
                                                          "left": 0}
        # ... which shows Ana's chat (and takes ?c= out of the address).
        page = ben_ctx.new_page()
        page.goto(opened)
        expect(page.get_by_role("heading", name=ana_name, level=2)).to_be_visible(timeout=15_000)
        expect(page.locator(".messages li.theirs .text")).to_have_text(
            ["are you up?", "dinner at 8?"])
        assert page.url == f"{web.base_url}/"

        # With a tab open on the list, a click opens the chat in it.
        page.keyboard.press("Escape")
        expect(page.locator(".chat")).to_have_count(0)
        assert [n["body"] for n in deliver(first)] == [f"{ana_name}: are you up?"]
        # Chromium allows focus() only after a real click: the open itself is
        # the tab's.
        assert in_worker(ben_ctx, CLICK, [cid, False]) == {
            "result": "InvalidAccessError", "opened": None, "left": 0}
        expect(page.get_by_role("heading", name=ana_name, level=2)).to_be_visible()
    finally:
        ana_ctx.close()
        ben_ctx.close()
