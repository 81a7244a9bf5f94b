"""The link URL's page in a real browser (headless Chromium driven by
Playwright): someone not signed in signs in on the page, with a password or
with a one-time code, and the same link carries on to the question and the
link; an ended session asks for sign-in again; a bad ticket shows its code;
what the app named its user is shown as text, never run as HTML."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from TLSSigAPIv2 import TLSSigAPIv2

from tests.browser import chromium, needs_chromium
from tests.support import App, Server
from tidings.domain import link_tickets

pytestmark = needs_chromium
Users = Callable[[str], str]
KEY = "tidings.home.usersig"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    context.close()
    assert errors == [], errors  # the script never threw


def ticket(app: App, user: str) -> str:
    return str(TLSSigAPIv2(app.sdkappid, app.secret_key).gen_sig_with_userbuf(
        user, 300, link_tickets.LINK_PURPOSE))


def imported(server: Server, app: App, *people: tuple[str, str]) -> None:
    with server.http(app, app.admin) as http:
        reply = http.post("/v1/admin/accounts/import", json={"accounts": [
            {"user_id": u, "nickname": n} for u, n in people]})
    assert reply.status_code == 200, reply.text


def register(server: Server, username: str, password: str) -> dict[str, Any]:
    with server.http() as http:
        reply = http.post("/v1/home/register", json={"username": username,
                                                     "password": password})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def links_of(server: Server, usersig: str) -> list[dict[str, Any]]:
    with server.http() as http:
        reply = http.get("/v1/links", headers={"Authorization": f"Bearer {usersig}"})
    assert reply.status_code == 200, reply.text
    return reply.json()["links"]  # type: ignore[no-any-return]


def open_link(page: Page, server: Server, app: App, user: str, **extra: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in {"ticket": ticket(app, user), **extra}.items())
    page.goto(f"{server.base_url}/l/{app.sdkappid}?{query}")


def test_sign_in_with_a_password_then_the_same_link_carries_on(
        server: Server, page: Page, users: Users) -> None:
    shop = server.create_app("ShopX")
    bob, carol = users("bob"), users("carol")
    imported(server, shop, (carol, "Carol the Seller"), (bob, "Bob"))
    name = f"p{uuid.uuid4().hex[:12]}"
    account = register(server, name, "correct horse battery")
    open_link(page, server, shop, carol, to=bob, action="chat")

    expect(page.locator("#sign-in")).to_be_visible()
    page.fill("#username", name)
    page.fill("#password", "wrong password here")
    page.click("#password-go")
    expect(page.locator("#status")).to_have_text(re.compile(r"\(96000\)"))
    assert page.evaluate(f"localStorage.getItem('{KEY}')") is None

    page.fill("#password", "correct horse battery")
    page.click("#password-go")
    expect(page.locator("#question")).to_have_text(
        "Link your ShopX account 'Carol the Seller' to this account?")
    expect(page.locator("#me")).to_have_text(name)
    expect(page.locator("#then")).to_have_text(f"Then open the chat with Bob ({bob}).")
    assert links_of(server, account["usersig"]) == []  # asked, not yet linked
    page.click("#yes")
    expect(page.locator("#status")).to_have_text(
        f"Linked. Open app:{shop.sdkappid}:c2c_{bob} in the messenger.")
    [made] = links_of(server, account["usersig"])
    assert made["user"]["user_id"] == carol and made["app"]["name"] == "ShopX"

    # The browser keeps the session: the next link needs no sign-in.
    dan = users("dan")
    travel = server.create_app("TravelY")
    open_link(page, server, travel, dan)
    expect(page.locator("#question")).to_have_text(
        f"Link your TravelY account '{dan}' to this account?")
    page.click("#no")
    expect(page.locator("#status")).to_have_text("Nothing was linked.")
    assert len(links_of(server, account["usersig"])) == 1


def test_sign_in_with_a_code_registers_and_links(server: Server, page: Page,
                                                 users: Users) -> None:
    shop = server.create_app("ShopX")
    carol = users("carol")
    address = f"{uuid.uuid4().hex[:10]}@example.org"
    open_link(page, server, shop, carol)
    page.fill("#address", address)
    page.click("#code-send")
    expect(page.locator("#code-row")).to_be_visible()
    found = None
    for _ in range(50):
        found = re.search(rf"code for email {re.escape(address)}: (\d{{6}})",
                          server.log_tail())
        if found:
            break
        page.wait_for_timeout(100)
    assert found, "the console sender logged no code"
    page.fill("#code", found.group(1))
    page.click("#code-go")
    expect(page.locator("#question")).to_have_text(
        f"Link your ShopX account '{carol}' to this account?")
    expect(page.locator("#me")).to_have_text(address)
    page.click("#yes")
    expect(page.locator("#status")).to_have_text("Linked.")
    usersig = page.evaluate(f"localStorage.getItem('{KEY}')")
    assert [x["user"]["user_id"] for x in links_of(server, usersig)] == [carol]


def test_an_ended_session_asks_for_sign_in_again(server: Server, page: Page,
                                                 users: Users) -> None:
    shop = server.create_app("ShopX")
    name = f"p{uuid.uuid4().hex[:12]}"
    account = register(server, name, "correct horse battery")
    with server.http() as http:
        assert http.post("/v1/home/sign-out", headers={
            "Authorization": f"Bearer {account['usersig']}"}).status_code == 200
    page.goto(server.base_url + "/v1/home")
    page.evaluate(f"localStorage.setItem('{KEY}', {account['usersig']!r})")
    open_link(page, server, shop, users("carol"))
    expect(page.locator("#status")).to_have_text(
        "Your Tidings session has ended. Sign in again.")
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate(f"localStorage.getItem('{KEY}')") is None


def test_bad_tickets_show_their_code_and_app_text_is_never_html(
        server: Server, page: Page, users: Users) -> None:
    shop = server.create_app("ShopX")
    name = f"p{uuid.uuid4().hex[:12]}"
    account = register(server, name, "correct horse battery")
    page.goto(server.base_url + "/v1/home")
    page.evaluate(f"localStorage.setItem('{KEY}', {account['usersig']!r})")

    page.goto(f"{server.base_url}/l/{shop.sdkappid}?ticket=forged")
    expect(page.locator("#status")).to_have_text(re.compile(r"\(9605\d\)"))
    expect(page.locator("#ask")).to_be_hidden()

    carol = users("carol")
    nasty = "<img src=x onerror=\"document.title='owned'\">"
    imported(server, shop, (carol, nasty))
    open_link(page, server, shop, carol)
    expect(page.locator("#user-nick")).to_have_text(nasty)
    assert page.locator("#ask img[src='x']").count() == 0
    assert page.title() == "Link an account - Tidings"
