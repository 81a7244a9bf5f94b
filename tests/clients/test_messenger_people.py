"""The messenger's people screens in headless Chromium (Playwright), against
one real server per module whose e-mail goes through a real SMTP server
(tests/home_support.py's Mailbox): a group is created, a member invited,
both chat in it live and a role changes; a message is found by search and
opens its chat at the message; a friend request is sent, accepted and the
friend appears; a block stops messages; a code sent by e-mail signs in (and
registers); sessions are listed and one signed out; the language switch
shows Chinese.

``TIDINGS_TEST_SCREENSHOT_DIR=docs/screenshots`` saves the screens
(docs/messenger.md), at 1280x800 and, for a phone, 390x844."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser import chromium, needs_chromium
from tests.clients import test_messenger as messenger
from tests.clients.axe import assert_accessible
from tests.clients.test_messenger import unique
from tests.home_support import Mailbox, mailbox, smtp_env
from tests.support import InProcessServer, Server

__all__ = ["mailbox"]
pytestmark = needs_chromium
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LIVE = 15_000  # ms: what arrives through another person's socket


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture(scope="module")
def people_server(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[Server]:
    """One server for the module (SQLite: the screens do not depend on the
    store), its codes sent by SMTP to ``mailbox``."""
    env = {f"TIDINGS_{k.upper()}": v for k, v in smtp_env(mailbox).items()}
    env.update({"TIDINGS_HOME_ATTEMPTS_PER_IP": "100000", "TIDINGS_HOME_CODES_PER_IP": "100000",
                "TIDINGS_HOME_CODE_RESEND_AFTER": "0"})
    server = InProcessServer(tmp_path_factory.mktemp("people"), "", env)
    server.start()
    yield server
    server.stop()


def shot(page: Page, name: str) -> None:
    """The screen at the docs' sizes (a phone's when the name ends in -phone)."""
    if shots := os.environ.get("TIDINGS_TEST_SCREENSHOT_DIR"):
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.set_viewport_size(PHONE if name.endswith("-phone") else DESKTOP)
        page.screenshot(path=str(Path(shots) / f"{name}.png"))


class Person(messenger.Person):
    """test_messenger.py's person, with the sections."""

    def section(self, name: str) -> None:
        self.page.get_by_role("navigation", name="Sections").get_by_role(
            "button", name=name, exact=True).click()

    def send(self, text: str) -> None:  # exact: "Send request" is on screen too
        self.page.get_by_label("Message", exact=True).fill(text)
        self.page.get_by_role("button", name="Send", exact=True).click()

    def messages(self) -> Locator:
        return self.page.locator(".messages li:not(.end) .text")


def test_a_group_is_made_a_member_invited_both_chat_live_a_role_changes_and_search_finds(
        people_server: Server, browser: Browser) -> None:
    ana, ben = Person(browser, people_server), Person(browser, people_server, phone=True)
    try:
        ana_name, ben_name, group = unique("ana"), unique("ben"), unique("Trip ")
        ana.register(ana_name)
        ben.register(ben_name)

        ana.section("Groups")
        ana.page.get_by_label("Group name").fill(group)
        ana.page.get_by_role("button", name="Create").click()
        expect(ana.page.get_by_role("heading", name=group)).to_be_visible()  # its chat opened
        ana.page.get_by_role("button", name=group, exact=True).click()  # the details
        expect(ana.page.get_by_role("list", name="Members").locator("li")).to_have_count(1)
        ana.page.get_by_label("Invite (usernames)").fill(ben_name)
        ana.page.get_by_role("button", name="Invite", exact=True).click()
        members = ana.page.get_by_role("list", name="Members").locator("li")
        expect(members).to_have_count(2)
        expect(members.filter(has_text=ana_name)).to_contain_text("Owner")
        ana.page.get_by_role("button", name="Open chat").click()
        ana.send("hello group")

        # Ben (on a phone) has the group in his chats, by its name, and among his
        # groups; he chats in it, live both ways.
        expect(ben.page.get_by_role("list").get_by_role("button", name=group)).to_contain_text(
            "hello group", timeout=LIVE)
        ben.section("Groups")
        ben_groups = ben.page.get_by_role("list", name="Your groups")
        expect(ben_groups.locator("li", has_text=group)).to_contain_text("Member")
        ben.page.get_by_role("button", name=f"Chat in {group}").click()
        expect(ben.messages()).to_have_text(["hello group"], timeout=LIVE)
        # Who wrote it, by name (the members' profiles), not by user id.
        expect(ben.page.locator(".messages li.theirs .sender")).to_have_text([ana_name])
        ben.send("hi ana")
        expect(ana.messages()).to_have_text(["hello group", "hi ana"], timeout=LIVE)
        # Ana's chat was open before Ben joined: it names him all the same.
        expect(ana.page.locator(".messages li.theirs .sender")).to_have_text([ben_name])
        ana.send("welcome")
        expect(ben.messages()).to_have_text(["hello group", "hi ana", "welcome"], timeout=LIVE)

        # Muted for an hour, Ben cannot write (the chat says why); unmuted, he can.
        ana.page.get_by_role("button", name=f"Mute 1 h: {ben_name}").click()
        expect(members.filter(has_text=ben_name)).to_contain_text("muted until")
        ben.send("am I muted?")
        expect(ben.page.get_by_role("alert")).to_contain_text("10017")
        ana.page.get_by_role("button", name=f"Unmute {ben_name}").click()
        expect(members.filter(has_text=ben_name)).not_to_contain_text("muted until")
        ben.send("back again")
        expect(ana.messages()).to_have_text(["hello group", "hi ana", "welcome", "back again"],
                                            timeout=LIVE)
        ben.page.get_by_role("button", name="Back to chats").click()

        # Ana makes Ben an admin: his list says so, without a reload.
        role = ana.page.get_by_label(f"Role of {ben_name}")
        expect(role).to_have_value("Member")
        role.select_option("Admin")
        expect(ben_groups.locator("li", has_text=group)).to_contain_text("Admin", timeout=LIVE)
        expect(ana.page.get_by_label(f"Role of {ben_name}")).to_have_value("Admin")
        shot(ana.page, "people-group")

        # Search finds Ana's first message and opens the chat at it.
        ben.section("Search")
        ben.page.get_by_label("Search your messages").fill("hello")
        ben.page.get_by_label("Search your messages").press("Enter")
        hits = ben.page.get_by_role("list", name="Results").locator("li")
        expect(hits).to_have_count(1)
        expect(hits.locator("mark")).to_have_text(["hello"])
        assert_accessible(ben.page, "search results (phone)")
        shot(ben.page, "people-search-phone")
        hits.get_by_role("button").click()
        found = ben.page.locator(".chat li.found")
        expect(found).to_contain_text("hello group")
        expect(found).to_be_focused()
    finally:
        ana.close()
        ben.close()


def test_a_friend_request_is_accepted_and_a_block_stops_messages(
        people_server: Server, browser: Browser) -> None:
    cat, dan = Person(browser, people_server), Person(browser, people_server)
    try:
        cat_name, dan_name = unique("cat"), unique("dan")
        cat.register(cat_name)
        dan.register(dan_name)
        cat.section("Contacts")
        dan.section("Contacts")
        cat.page.get_by_label("Username", exact=True).fill(dan_name)
        cat.page.get_by_label("Note (optional)").fill("we met at the fair")
        cat.page.get_by_role("button", name="Send request").click()
        expect(cat.page.get_by_role("status")).to_contain_text("Request sent")

        # Dan sees it live, with the note, and accepts; both lists show the friend.
        request = dan.page.locator("li", has_text=cat_name)
        expect(request.locator(".note")).to_have_text("we met at the fair", timeout=LIVE)
        shot(dan.page, "people-contacts")
        badge = dan.page.get_by_role("navigation", name="Sections").locator(".badge")
        expect(badge).to_have_accessible_name("1 waiting")  # on the nav, wherever he is
        dan.page.get_by_role("button", name=f"Accept {cat_name}").click()
        expect(badge).to_have_count(0)
        expect(dan.page.get_by_role("list", name="Friends")).to_contain_text(cat_name)
        expect(cat.page.get_by_role("list", name="Friends")).to_contain_text(dan_name, timeout=LIVE)
        # Cat's own name for him (only she sees it).
        cat.page.get_by_role("button", name=f"Rename {dan_name}").click()
        cat.page.get_by_label(f"Your name for {dan_name}").fill("Danny from the fair")
        cat.page.get_by_role("button", name="Save").click()
        expect(cat.page.get_by_role("list", name="Friends").locator(".who")).to_have_text(
            ["Danny from the fair"])

        # Cat writes from the contact; Dan blocks her; what she sends then never reaches him.
        cat.page.get_by_role("button", name=f"Chat with {dan_name}").click()
        cat.send("before the block")
        dan.page.get_by_role("button", name=f"Chat with {cat_name}").click()
        expect(dan.messages()).to_have_text(["before the block"], timeout=LIVE)
        dan.page.get_by_role("button", name=f"Block {cat_name}").click()
        expect(dan.page.get_by_role("list", name="Blocked")).to_contain_text(cat_name)
        cat.send("while blocked")
        # To her it looks sent (docs/friends.md: a blocked sender is not told).
        expect(cat.messages().filter(has_text="while blocked")).to_have_count(1)
        dan.page.get_by_role("button", name=f"Unblock {cat_name}").click()
        expect(dan.page.get_by_role("list", name="Blocked")).to_have_count(0)
        cat.send("after the block")
        expect(dan.messages()).to_have_text(["before the block", "after the block"], timeout=LIVE)
        dan.page.reload()  # nor is it stored for him
        dan.section("Chats")
        dan.page.get_by_role("button", name=cat_name).click()
        expect(dan.messages()).to_have_text(["before the block", "after the block"])
    finally:
        cat.close()
        dan.close()


def test_an_email_code_signs_in_sessions_are_listed_and_the_language_switches(
        people_server: Server, browser: Browser, mailbox: Mailbox) -> None:
    eve, eve_phone = Person(browser, people_server), Person(browser, people_server, phone=True)
    address = f"{unique('eve')}@example.org"
    try:
        # The first field decides: a username asks for the password, a phone
        # number (as people type it) or an e-mail address for a code.
        field = eve.page.get_by_label("Username, e-mail or phone")
        for typed, by_code in (("eve", False), ("+49 170 123-4567", True), ("+49 17", False)):
            field.fill(typed)
            expect(eve.page.get_by_label("Password")).to_have_count(0 if by_code else 1)
            expect(eve.page.get_by_role("button", name="Send code")).to_have_count(int(by_code))
        for count, person in enumerate((eve, eve_phone), start=1):
            page = person.page
            page.get_by_label("Username, e-mail or phone").fill(address)
            expect(page.get_by_label("Password")).to_have_count(0)  # a code instead
            page.get_by_role("button", name="Send code").click()
            expect(page.get_by_role("status")).to_contain_text(address)
            if count == 2:
                shot(page, "people-code-phone")
            page.get_by_label("Code").fill(mailbox.wait_code(address, count))
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Chats")).to_be_visible(timeout=30_000)

        # The sections by keyboard: the arrow keys move along the nav, Enter opens one.
        nav = eve.page.get_by_role("navigation", name="Sections")
        nav.get_by_role("button", name="Chats", exact=True).focus()
        for _ in range(4):
            eve.page.keyboard.press("ArrowDown")
        expect(nav.get_by_role("button", name="Me", exact=True)).to_be_focused()
        eve.page.keyboard.press("Enter")
        expect(nav.get_by_role("button", name="Me", exact=True)).to_have_attribute(
            "aria-current", "page")
        eve.page.get_by_label("Display name").fill("Eve Example")
        eve.page.get_by_role("button", name="Save").click()
        expect(eve.page.get_by_role("status")).to_have_text("Saved.")
        sessions = eve.page.get_by_role("list", name="Where you are signed in").locator("li")
        expect(sessions).to_have_count(2)
        expect(sessions.filter(has_text="This device")).to_contain_text("E-mail code")
        shot(eve.page, "people-me")
        sessions.get_by_role("button", name="Sign out").click()  # the phone's session
        expect(sessions).to_have_count(1)
        expect(sessions).to_contain_text("This device")
        # The phone's page sees its session end: the sign-in form, without a reload.
        expect(eve_phone.page.get_by_role("button", name="Sign in")).to_be_visible(timeout=LIVE)
        eve_phone.page.reload()
        expect(eve_phone.page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(eve_phone.page.get_by_role("heading", name="Chats")).to_have_count(0)

        eve.page.get_by_label("Language").select_option("zh-CN")
        expect(eve.page.get_by_role("heading", name="会话")).to_be_visible()
        expect(eve.page.get_by_role("navigation", name="栏目")).to_contain_text("联系人")
        assert eve.page.evaluate("document.documentElement.lang") == "zh-CN"
        eve.page.get_by_role("button", name="我", exact=True).click()
        expect(eve.page.get_by_label("昵称")).to_have_value("Eve Example")
        shot(eve.page, "people-me-zh-phone")
    finally:
        eve.close()
        eve_phone.close()


def test_join_requests_are_rejected_and_approved_and_the_profile_and_mute_are_kept(
        people_server: Server, browser: Browser) -> None:
    owner, asker = Person(browser, people_server), Person(browser, people_server)
    try:
        owner_name, asker_name, group = unique("fay"), unique("gus"), unique("Club ")
        owner.register(owner_name)
        asker.register(asker_name)
        owner.section("Groups")
        owner.page.get_by_label("Group name").fill(group)
        owner.page.get_by_label("Public: others may ask to join").check()
        owner.page.get_by_role("button", name="Create").click()
        owner.page.get_by_role("button", name=group, exact=True).click()
        facts = owner.page.locator(".people p.muted").first
        expect(facts).to_contain_text("Group ID ")
        group_id = re.search(r"Group ID (\S+)", facts.inner_text()).group(1)  # type: ignore[union-attr]

        def ask(note: str) -> None:
            asker.page.get_by_label("Group ID").fill(group_id)
            asker.page.get_by_label("Note (optional)").fill(note)
            asker.page.get_by_role("button", name="Ask to join").click()
            expect(asker.page.get_by_role("status")).to_contain_text("Asked")

        asker.section("Groups")
        ask("let me in")
        requests = owner.page.get_by_role("list", name="Requests to join")
        expect(requests.locator(".note")).to_have_text(["let me in"], timeout=LIVE)
        expect(owner.page.get_by_role("button", name="Groups 1 waiting")).to_be_visible()
        owner.page.get_by_role("button", name=f"Reject {asker_name}").click()
        expect(requests).to_have_count(0)
        ask("please")
        expect(requests.locator(".note")).to_have_text(["please"], timeout=LIVE)
        owner.page.get_by_role("button", name=f"Approve {asker_name}").click()
        expect(owner.page.get_by_role("list", name="Members").locator("li")).to_have_count(2)
        asker_groups = asker.page.get_by_role("list", name="Your groups")
        expect(asker_groups).to_contain_text(group, timeout=LIVE)

        # The profile and the person's own mute are kept (seen again after a reload).
        owner.page.get_by_label("Introduction").fill("We meet on Fridays.")
        owner.page.get_by_role("button", name="Save").click()
        expect(owner.page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
        mute = owner.page.get_by_label("Mute notifications")
        mute.check()
        expect(mute).to_be_enabled()  # switched off until the server answered
        expect(mute).to_be_checked()
        owner.page.reload()
        owner.section("Groups")
        owner.page.get_by_role("button", name=group, exact=True).click()
        expect(owner.page.get_by_label("Introduction")).to_have_value("We meet on Fridays.")
        expect(owner.page.get_by_label("Mute notifications")).to_be_checked()

        # She hands the group over (a second press confirms), then leaves it.
        hand_over = f"Make owner: {asker_name}"
        owner.page.get_by_role("button", name=hand_over).click()
        owner.page.get_by_role("button", name=f"Sure? Press again: {hand_over}").click()
        expect(asker_groups.locator("li", has_text=group)).to_contain_text("Owner", timeout=LIVE)
        owner.page.get_by_role("button", name="Leave the group").click()
        owner.page.get_by_role("button", name="Sure? Press again").click()
        expect(owner.page.get_by_role("list", name="Your groups")).not_to_contain_text(group)
    finally:
        owner.close()
        asker.close()
