"""The operator console at ``/console`` in headless Chromium (Playwright),
against a real server (docs/console.md): an operator signs in, creates an
app, points its callbacks at a real local HTTP server and sees the test
event's delivery; an app's admin signed in with the app's API key sees that
app only, and a console tampered to name another app is refused by the
server. No CSP violation on any screen.

The page does not depend on the store: one SQLite server for the module.
``TIDINGS_TEST_SCREENSHOT_DIR=docs`` saves the screens into docs/screenshots/."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.app_server import AppServer
from tests.browser import chromium, needs_chromium
from tests.clients.axe import assert_accessible
from tests.support import App, InProcessServer, Server, error_of

pytestmark = needs_chromium
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = InProcessServer(tmp_path_factory.mktemp("console"), "")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    s = AppServer().start()
    yield s
    s.stop()


class Console:
    """One browser context (its own sessionStorage): one person's console."""

    def __init__(self, browser: Browser, server: Server, viewport: dict[str, int]) -> None:
        self.context: BrowserContext = browser.new_context(viewport=viewport)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if "Content Security Policy" in m.text else None)
        self.page.goto(f"{server.base_url}/console")

    def shot(self, name: str) -> None:
        if shots := os.environ.get("TIDINGS_TEST_SCREENSHOT_DIR"):
            folder = Path(shots) / "screenshots"
            folder.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(folder / f"console-{name}.png"))

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


def api_key(server: Server, app: App) -> str:
    with server.http(app, app.admin) as http:
        return str(http.post("/v1/admin/app/api-keys", json={"name": "console"}).json()["key"])


def test_an_operator_creates_an_app_sets_callbacks_and_sees_a_delivery(
        console_server: Server, browser: Browser, app_server: AppServer) -> None:
    server = console_server
    name = f"ops{uuid.uuid4().hex[:6]}"
    password = server.create_operator(name)
    ops = Console(browser, server, DESKTOP)
    try:
        page = ops.page
        ops.shot("sign-in")
        page.get_by_label("Operator name").fill(name)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("96100")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        apps = page.get_by_role("navigation", name="Apps")
        expect(apps.get_by_role("heading", name="Apps")).to_be_visible()

        apps.get_by_label("Name").fill("ShopX Console")
        apps.get_by_role("button", name="Create").click()
        expect(page.get_by_role("heading", name="ShopX Console")).to_be_visible()
        expect(apps.get_by_role("button", name="ShopX Console")).to_have_attribute(
            "aria-current", "page")
        expect(page.locator(".keys li")).to_have_count(1)  # its first secret key

        sections = page.get_by_role("navigation", name="Sections of the app")
        sections.get_by_role("button", name="Callbacks").click()
        expect(page.get_by_text("No callback URL yet")).to_be_visible()
        page.get_by_label("Callback URL").fill(app_server.url)
        page.get_by_role("button", name="Save").click()
        page.get_by_role("button", name="Send a test event").click()
        expect(page.get_by_role("status")).to_contain_text("acknowledged")
        row = page.locator("table tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(1)).to_have_text("test")
        expect(row.locator(".status")).to_have_text("delivered")
        assert len(app_server.of("test")) == 1  # a real request reached the app's server
        ops.shot("callbacks")
        assert_accessible(page, "the console's callbacks and deliveries")

        # The figures count that delivery (from the stored rows: a cluster's whole).
        sections.get_by_role("button", name="Figures").click()
        delivered = page.get_by_role("img", name="Callbacks delivered: total 1")
        expect(delivered).to_be_visible()
        expect(page.get_by_role("img", name="Callbacks failed: total 0")).to_be_visible()
        ops.shot("figures")

        # A reload keeps the sign-in (this tab's sessionStorage), no token in the URL.
        page.reload()
        expect(apps.get_by_role("button", name="ShopX Console")).to_be_visible()
        assert "tdo_" not in page.url
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    finally:
        ops.close()


def test_an_app_key_sees_its_own_app_only(console_server: Server, browser: Browser) -> None:
    server = console_server
    mine, theirs = server.create_app("Mine"), server.create_app("Theirs")
    for app, user in ((mine, "shopper-mine"), (theirs, "shopper-theirs")):
        with server.http(app, app.admin) as http:
            http.post("/v1/admin/accounts/import", json={"accounts": [{"user_id": user}]})
    key = api_key(server, mine)
    admin = Console(browser, server, PHONE)
    try:
        page = admin.page
        page.get_by_label("App API key").check()
        page.get_by_label("API key", exact=True).fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text(f"Signed in as app {mine.sdkappid}")).to_be_visible()
        expect(page.get_by_role("heading", name="Mine")).to_be_visible()
        expect(page.get_by_role("navigation", name="Apps")).to_have_count(0)  # operators only
        admin.shot("app-phone")
        page.get_by_role("button", name="Users").click()
        page.get_by_label("Find users (user id starts with)").fill("shopper")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("table tbody code")).to_have_text(["shopper-mine"])
        page.get_by_role("button", name="Disable").click()
        expect(page.locator("table tbody .status")).to_have_text(["disabled"])
        page.get_by_role("button", name="Profile").click()
        expect(page.get_by_role("heading", name="Conversations")).to_be_visible()

        page.get_by_role("button", name="Broadcasts").click()
        page.get_by_label("From (user id)").fill(mine.admin)
        page.get_by_label("Message to every user").fill("Store closes at 6")
        page.get_by_role("button", name="Send to everyone").click()
        expect(page.locator(".plain li .status")).to_have_text(["done"], timeout=15_000)
        expect(page.locator(".plain li")).to_contain_text("1 sent")  # shopper-mine

        page.get_by_role("button", name="Push").click()
        page.get_by_label("Private previews (hide every notification's content)").check()
        page.get_by_role("button", name="Save").first.click()
        expect(page.get_by_role("status")).to_have_text("Saved.")

        # Tampered to name the other app, the console gets the server's refusal.
        stored = json.loads(page.evaluate(
            "sessionStorage.getItem('tidings.console.credential')"))
        assert stored == {"kind": "apikey", "key": key, "sdkappid": mine.sdkappid}
        page.evaluate("(v) => sessionStorage.setItem('tidings.console.credential', v)",
                      json.dumps({**stored, "sdkappid": theirs.sdkappid}))
        page.reload()
        expect(page.get_by_role("alert")).to_contain_text("96103")
        expect(page.get_by_role("heading", name="Theirs")).to_have_count(0)
        status = page.evaluate("""async ([key, app]) => (await fetch('/v1/admin/accounts', {
            headers: {Authorization: 'ApiKey ' + key, 'Tidings-App': String(app)}})).status""",
                               [key, theirs.sdkappid])
        assert status == 403
    finally:
        admin.close()
    with server.http(mine, mine.admin) as http:  # what the console did, on the server
        assert http.get("/v1/admin/push").json()["private_previews"] is True
        states = {u["user_id"]: u["state"] for u in http.get("/v1/admin/accounts").json()["users"]}
        assert states["shopper-mine"] == "disabled"
    # And on REST, whatever the route (tests/api/test_operator_console.py has them all).
    reply = httpx.get(f"{server.base_url}/v1/admin/accounts", timeout=10, headers={
        "Authorization": f"ApiKey {key}", "Tidings-App": str(theirs.sdkappid)})
    assert error_of(reply) == (403, 96103)


def test_an_operator_edits_a_profile_sends_as_a_user_and_signs_out_another_sign_in(
        console_server: Server, browser: Browser) -> None:
    server = console_server
    name = f"ops{uuid.uuid4().hex[:6]}"
    password = server.create_operator(name)
    elsewhere = httpx.post(f"{server.base_url}/v1/operator/sign-in",
                           json={"name": name, "password": password}, timeout=30).json()["token"]
    shop = server.create_app("Profiles")
    with server.http(shop, shop.admin) as http:
        http.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": "buyer-1", "nickname": "Old name"}, {"user_id": "buyer-2"}]})
    ops = Console(browser, server, DESKTOP)
    try:
        page = ops.page
        page.get_by_label("Operator name").fill(name)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        apps = page.get_by_role("navigation", name="Apps")

        # Her sign-ins: this browser and the other; the other is signed out.
        sessions = apps.get_by_role("region", name="Your sign-ins").locator("li")
        expect(sessions).to_have_count(2)
        expect(sessions.filter(has_text="this browser")).to_have_count(1)
        sessions.filter(has_not_text="this browser").get_by_role("button").click()
        expect(sessions).to_have_count(1)
        expect(sessions).to_contain_text("this browser")
        refused = httpx.get(f"{server.base_url}/v1/operator/me", timeout=10,
                            headers={"Authorization": f"Operator {elsewhere}"})
        assert error_of(refused) == (401, 96102)

        apps.get_by_role("button", name="Profiles").click()
        page.get_by_role("navigation", name="Sections of the app").get_by_role(
            "button", name="Users").click()
        row = page.locator("table tbody tr", has_text="buyer-1")
        row.get_by_role("button", name="Profile").click()
        panel = page.get_by_role("region", name="Profile: buyer-1")
        panel.get_by_label("Nickname").fill("New name")
        panel.get_by_label("Signature").fill("Buys lamps")
        panel.get_by_role("button", name="Save").click()
        expect(panel.get_by_role("status")).to_have_text("Saved.")
        expect(panel.locator("dl.facts")).to_contain_text("New name")

        panel.get_by_label("To (c2c_<user id> or group_<group id>)").fill("c2c_buyer-2")
        panel.get_by_label("Message", exact=True).fill("hello from the console")
        panel.get_by_role("button", name="Send", exact=True).click()
        expect(panel.get_by_role("status").filter(has_text="Sent")).to_have_text("Sent (seq 1).")
        expect(panel.locator("ol.history li")).to_contain_text("hello from the console")
        assert_accessible(page, "the console's user panel")
        ops.shot("user")
    finally:
        ops.close()
    with server.http(shop, shop.admin) as http:  # what the console did, on the server
        profile = http.get("/v1/admin/profiles/buyer-1").json()
        assert (profile["nickname"], profile["signature"]) == ("New name", "Buys lamps")
        page_of = http.get("/v1/admin/conversations/buyer-2/c2c_buyer-1/messages").json()
        assert [(m["sender"], m["elements"][0]["text"]) for m in page_of["messages"]] == [
            ("buyer-1", "hello from the console")]
