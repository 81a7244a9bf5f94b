"""The web messenger at ``/`` in headless Chromium (Playwright), against a
real server: two people register in two browser contexts and chat in real
time, a message is shown as text and never as HTML, a reload keeps the
sign-in, signing out ends it, and every field has a visible label.

``TIDINGS_TEST_SCREENSHOT_DIR=docs`` saves the chat screen (docs/messenger.md)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser import chromium, needs_chromium
from tests.support import Server

pytestmark = needs_chromium
PASSWORD = "correct horse 1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


class Person:
    """One browser context (its own localStorage): one person's messenger."""

    def __init__(self, browser: Browser, server: Server, *, phone: bool = False) -> None:
        size = {"width": 390, "height": 780} if phone else {"width": 1100, "height": 720}
        self.context: BrowserContext = browser.new_context(viewport=size)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if "Content Security Policy" in m.text else None)
        self.page.goto(f"{server.base_url}/")

    def register(self, username: str) -> None:
        self.page.get_by_role("button", name="New here? Create an account").click()
        self.page.get_by_label("Username", exact=True).fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Create account").click()
        expect(self.page.get_by_role("heading", name="Chats")).to_be_visible(timeout=30_000)

    def send(self, text: str) -> None:
        self.page.get_by_label("Message").fill(text)
        self.page.get_by_role("button", name="Send").click()

    def messages(self) -> list[str]:
        return self.page.locator(".messages li:not(.end) .text").all_inner_texts()

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def test_two_people_chat_in_real_time_and_a_reload_keeps_the_sign_in(
        server: Server, browser: Browser) -> None:
    if server.database_url:
        pytest.skip("the page does not depend on the store; once is enough")
    ana, ben = Person(browser, server), Person(browser, server, phone=True)
    try:
        ana_name, ben_name = unique("ana"), unique("ben")
        ana.register(ana_name)
        ben.register(ben_name)
        expect(ben.page.get_by_text("No chats yet")).to_be_visible()

        ana.page.get_by_label("Start a chat with (username)").fill(ben_name)
        ana.page.get_by_role("button", name="Start").click()
        expect(ana.page.get_by_role("heading", name=ben_name)).to_be_visible()
        ana.send("<b>hi ben</b>")
        mine = ana.page.locator(".messages li.mine .text")
        expect(mine).to_have_text(["<b>hi ben</b>"])
        assert ana.page.locator(".messages b").count() == 0  # text, not HTML
        # Her own list has the new chat, with her message as its last.
        expect(ana.page.locator(".conversations li")).to_have_count(1)
        expect(ana.page.locator(".conversations .last")).to_have_text(["<b>hi ben</b>"])

        # Ben's list shows the chat with its unread count, without a reload.
        entry = ben.page.get_by_role("button", name=ana_name)
        expect(entry).to_be_visible(timeout=15_000)
        expect(entry.get_by_label("1 unread")).to_have_text("1")
        entry.click()
        expect(ben.page.locator(".messages li.theirs .text")).to_have_text(["<b>hi ben</b>"])
        ben.send("hello ana")
        expect(ana.page.locator(".messages li .text")).to_have_text(
            ["<b>hi ben</b>", "hello ana"], timeout=15_000)
        ana.send("how are you?")
        expect(ben.page.locator(".messages li .text")).to_have_text(
            ["<b>hi ben</b>", "hello ana", "how are you?"], timeout=15_000)
        if shots := os.environ.get("TIDINGS_TEST_SCREENSHOT_DIR"):
            ana.page.screenshot(path=str(Path(shots) / "messenger-chat.png"))
            ben.page.screenshot(path=str(Path(shots) / "messenger-chat-phone.png"))

        # A reload keeps the sign-in, and the history.
        ben.page.reload()
        entry = ben.page.get_by_role("button", name=ana_name)
        expect(entry).to_be_visible(timeout=15_000)
        expect(entry.locator(".unread")).to_have_count(0)  # ben read it all
        entry.click()
        expect(ben.page.locator(".messages li .text")).to_have_text(
            ["<b>hi ben</b>", "hello ana", "how are you?"])
        ben.page.get_by_role("button", name="Back to chats").click()  # phone layout

        # Signing out ends it, also after a reload; signing in again brings it back.
        ben.page.get_by_role("button", name="Sign out").click()
        expect(ben.page.get_by_role("button", name="Sign in")).to_be_visible()
        ben.page.reload()
        expect(ben.page.get_by_role("button", name="Sign in")).to_be_visible()
        ben.page.get_by_label("Username, e-mail or phone").fill(ben_name)
        ben.page.get_by_label("Password").fill(PASSWORD)
        ben.page.get_by_role("button", name="Sign in").click()
        expect(ben.page.get_by_role("button", name=ana_name)).to_be_visible(timeout=30_000)
    finally:
        ana.close()
        ben.close()


def test_the_sign_in_form_has_visible_labels_and_a_wrong_password_says_so(
        server: Server, browser: Browser) -> None:
    if server.database_url:
        pytest.skip("the page does not depend on the store; once is enough")
    someone = Person(browser, server)
    try:
        page = someone.page
        field = page.get_by_label("Username, e-mail or phone")
        password = page.get_by_label("Password")
        for control in (field, password):
            expect(control).to_be_visible()
        expect(page.locator("label", has_text="Username, e-mail or phone")).to_be_visible()
        field.fill(unique("nobody"))
        password.fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    finally:
        someone.close()
