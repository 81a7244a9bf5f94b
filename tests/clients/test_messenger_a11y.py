"""The messenger is accessible: axe-core (WCAG 2.1 AA) finds nothing on each
screen that exists (sign-in, register, the list, a chat, the phone layout),
and a person who uses only the keyboard signs in, starts a chat, moves
through the list with the arrows, opens a conversation, sends a message and
goes back, with the focus where they need it.

One SQLite server and one browser for the module: the page does not depend on
the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium, needs_chromium
from tests.clients.axe import BEST_PRACTICE, assert_accessible
from tests.clients.pages import (
    DESKTOP,
    PASSWORD,
    PHONE,
    make_account,
    open_page,
    register,
    serve,
    start_chat,
    tab_to,
    unique,
)
from tests.support import Server

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


def check(page: Page, name: str) -> None:
    """WCAG 2.1 AA and axe's best practices (landmarks, regions), but for
    one: on a phone with a chat open, the only heading is the chat's h2 (the
    list's h1 hides with the list)."""
    assert_accessible(page, name, tags=BEST_PRACTICE, skip=("page-has-heading-one",))


def test_every_screen_passes_axe_on_desktop_and_phone(web: Server, browser: Browser) -> None:
    for size in (DESKTOP, PHONE):
        label = "phone" if size is PHONE else "desktop"
        ana_ctx, ana = open_page(browser, web, size)
        ben_ctx, ben = open_page(browser, web, size)
        try:
            expect(ana.get_by_role("button", name="Sign in")).to_be_visible()
            check(ana, f"sign-in ({label})")
            ana.get_by_role("button", name="New here? Create an account").click()
            expect(ana.get_by_role("button", name="Create account")).to_be_visible()
            check(ana, f"register ({label})")
            ana.get_by_role("button", name="Have an account? Sign in").click()
            ana.get_by_label("Username, e-mail or phone").fill(unique("nobody"))
            ana.get_by_label("Password").fill("wrong")
            ana.get_by_role("button", name="Sign in").click()
            expect(ana.get_by_role("alert")).to_be_visible(timeout=30_000)
            check(ana, f"sign-in with an error ({label})")

            ana_name, ben_name = unique("ana"), unique("ben")
            ana.reload()
            register(ana, ana_name)
            register(ben, ben_name)
            expect(ana.get_by_text("No chats yet")).to_be_visible()
            check(ana, f"empty list ({label})")
            start_chat(ana, ben_name, "hello")
            check(ana, f"chat ({label})")
            entry = ben.get_by_role("button", name=ana_name)
            expect(entry).to_be_visible(timeout=15_000)
            check(ben, f"list with an unread chat ({label})")
            entry.click()
            expect(ben.locator(".messages li.theirs")).to_have_count(1)
            check(ben, f"chat, received ({label})")
        finally:
            ana_ctx.close()
            ben_ctx.close()


def test_keyboard_only_sign_in_open_send_and_back(web: Server, browser: Browser) -> None:
    """No mouse at all: Tab, typing, Enter, Escape and the arrows."""
    ana_ctx, ana = open_page(browser, web, DESKTOP)
    ben_ctx, ben = open_page(browser, web, PHONE)
    try:
        ana_name, ben_name, cat_name = unique("ana"), unique("ben"), unique("cat")
        register(ana, ana_name)
        register(ben, ben_name)
        make_account(web, cat_name)
        start_chat(ana, ben_name, "are you there?")
        ben.get_by_role("button", name="Sign out").click()

        # Sign in: the first field has the focus, Tab to the password, Enter.
        expect(ben.get_by_role("button", name="Sign in")).to_be_visible()
        expect(ben.get_by_label("Username, e-mail or phone")).to_be_focused()
        ben.keyboard.type(ben_name)
        ben.keyboard.press("Tab")
        expect(ben.get_by_label("Password")).to_be_focused()
        ben.keyboard.type(PASSWORD)
        ben.keyboard.press("Enter")
        entry = ben.get_by_role("button", name=ana_name)
        expect(entry).to_be_visible(timeout=30_000)

        # Start a chat by username: type it, Enter, write, Enter, Escape (the
        # focus goes back to the username field).
        tab_to(ben, "#peer")
        ben.keyboard.type(cat_name)
        ben.keyboard.press("Enter")
        expect(ben.get_by_role("heading", name=cat_name, level=2)).to_be_visible()
        expect(ben.get_by_label("Message")).to_be_focused()
        ben.keyboard.type("hi cat")
        ben.keyboard.press("Enter")
        expect(ben.locator(".messages li.mine .text")).to_have_text(["hi cat"])
        ben.keyboard.press("Escape")
        expect(ben.locator("#peer")).to_be_focused()

        # In the list, the arrows move between the entries (newest first).
        cat_entry = ben.get_by_role("button", name=cat_name)
        # The list reorders once the SDK has the stored message; Tab before it
        # lands on the old first entry, which keeps the focus when it moves.
        expect(ben.locator(".conversations button").first).to_contain_text(cat_name)
        tab_to(ben, ".conversations button")
        expect(cat_entry).to_be_focused()
        ben.keyboard.press("ArrowDown")
        expect(entry).to_be_focused()
        ben.keyboard.press("ArrowDown")  # the last stays
        expect(entry).to_be_focused()
        ben.keyboard.press("Home")
        expect(cat_entry).to_be_focused()
        ben.keyboard.press("End")
        expect(entry).to_be_focused()

        # Open the conversation from the list: Enter; the focus goes to the
        # message field.
        # Typing at once after Enter: not a key lost on the way to the field.
        ben.keyboard.press("Enter")
        ben.keyboard.type("yes, by keyboard")
        expect(ben.get_by_label("Message")).to_be_focused()
        expect(ben.get_by_label("Message")).to_have_value("yes, by keyboard")
        expect(ben.locator(".messages li.theirs .text")).to_have_text(["are you there?"])

        # Send: Enter.
        ben.keyboard.press("Enter")
        expect(ana.locator(".messages li .text")).to_have_text(
            ["are you there?", "yes, by keyboard"], timeout=15_000)

        # Back: Escape closes the chat, and the focus returns to its entry.
        ben.keyboard.press("Escape")
        expect(ben.locator(".chat")).to_have_count(0)
        expect(entry).to_be_focused()
        # The back button works from the keyboard too (the phone layout).
        ben.keyboard.press("Enter")
        expect(ben.get_by_label("Message")).to_be_focused()
        tab_to(ben, "button.back", back=True)
        ben.keyboard.press("Enter")
        expect(ben.locator(".chat")).to_have_count(0)
        expect(entry).to_be_focused()
    finally:
        ana_ctx.close()
        ben_ctx.close()


def test_the_helper_fails_listing_each_violation_and_its_nodes(browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.set_content('<html lang="en"><title>t</title><main><input id="nameless">'
                         '<p style="color:#bbb;background:#fff">faint</p></main></html>')
        with pytest.raises(AssertionError) as failed:
            assert_accessible(page, "a bad page")
        text = str(failed.value)
        assert "a bad page: 2 accessibility violation(s) (axe-core)" in text
        assert "- label (critical)" in text and "#nameless" in text
        assert "- color-contrast (serious)" in text
    finally:
        page.close()
