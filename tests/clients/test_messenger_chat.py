"""The messenger's chat view (docs/messenger.md, "The chat view") in headless
Chromium, two people in two browser contexts against one real server:
text, an image, a reaction, a reply, an edit and a recall in real time, the
typing indicator and the read state; older history paged in on scroll with
the reading position kept; a tab that goes offline while the other writes
and comes back with every message once, in order; a send whose answer
was lost, retried from its Retry button, shown once on both sides; and in
a group, an "@" mention, read counts, a file downloaded by its name, a
voice note, and a draft kept per conversation.

The people and their chat are shared by the module's tests (one server,
one browser), in order: the first makes the chat the others go on with.
``TIDINGS_TEST_SCREENSHOT_DIR=docs/screenshots`` saves the chat screens
(docs/messenger.md)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, FilePayload, Page, ViewportSize, WebSocketRoute, expect

from tests.browser import chromium, needs_chromium
from tests.clients.axe import assert_accessible
from tests.clients.pages import HOLD_FRAMES, PASSWORD, open_page, register
from tests.clients.test_messenger import Person, unique
from tests.conftest import new_server
from tests.media_files import png, wav
from tests.support import Server

pytestmark = needs_chromium
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
LIVE = 15_000  # ms for what crosses the server to the other browser
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4"/></svg>'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


class Chatter(Person):
    """A Person (test_messenger.py) at a given screen size."""

    def __init__(self, browser: Browser, server: Server, viewport: ViewportSize) -> None:
        super().__init__(browser, server)
        self.page.set_viewport_size(viewport)

    def open_chat(self, name: str) -> None:
        """Opens the chat from the list (leaving the open one on a phone)."""
        heading = self.page.get_by_role("heading", name=name)
        if heading.is_visible():
            return
        back = self.page.get_by_role("button", name="Back to chats")
        if back.is_visible():
            back.click()
        self.page.get_by_role("button", name=name).first.click()
        expect(heading).to_be_visible()

    def bubble(self, text: str) -> Any:
        return self.page.locator(".messages li.message", has_text=text)

    def menu(self, text: str, action: str) -> None:
        self.bubble(text).get_by_role("button", name="More").click()
        self.bubble(text).get_by_role("button", name=action).click()

    def texts(self) -> list[str]:
        return self.page.locator(".messages li.message .text").all_inner_texts()


@dataclass
class Pair:
    server: Server
    ana: Chatter
    ben: Chatter
    ana_name: str
    ben_name: str


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """SQLite only: the page does not depend on the store (the stores have
    their own tests), and the browser tests' time is better spent once."""
    server = new_server(tmp_path_factory.mktemp("server"), "")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pair(chat_server: Server, browser: Browser) -> Iterator[Pair]:
    ana = Chatter(browser, chat_server, DESKTOP)
    ben = Chatter(browser, chat_server, PHONE)
    try:
        pair = Pair(chat_server, ana, ben, unique("ana"), unique("ben"))
        ana.register(pair.ana_name)
        ben.register(pair.ben_name)
        ana.page.get_by_label("Start a chat with (username)").fill(pair.ben_name)
        ana.page.get_by_role("button", name="Start").click()
        expect(ana.page.get_by_role("heading", name=pair.ben_name)).to_be_visible()
        yield pair
    finally:
        ana.close()
        ben.close()


def shoot(page: Page, name: str) -> None:
    if shots := os.environ.get("TIDINGS_TEST_SCREENSHOT_DIR"):
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / f"{name}.png"))


def test_two_people_chat_with_an_image_a_reaction_a_reply_an_edit_and_a_recall(pair: Pair) -> None:
    ana, ben = pair.ana, pair.ben
    ana.send("hi ben")
    ben.open_chat(pair.ana_name)
    expect(ben.bubble("hi ben")).to_be_visible()
    # Ben has it open, so it is read: "Read" under Ana's message.
    expect(ana.bubble("hi ben").locator(".receipt")).to_have_text("Read", timeout=LIVE)

    # Typing shows on the other side, and ends with the message.
    ben.page.get_by_label("Message").fill("hello ana")
    typing = ana.page.locator(".chat .typing")
    expect(typing).to_have_text(f"{pair.ben_name} is typing…", timeout=LIVE)
    ben.page.get_by_role("button", name="Send").click()
    expect(ana.bubble("hello ana")).to_be_visible(timeout=LIVE)
    expect(typing).to_have_text("")

    # A real PNG: uploaded, shown to Ben as a thumbnail through a signed URL, opened large.
    dot: FilePayload = {"name": "dot.png", "mimeType": "image/png", "buffer": png(40, 30)}
    ana.page.locator(".compose input[type=file]").set_input_files(files=[dot])
    thumb = ben.page.locator(".messages li.theirs button.image img")
    expect(thumb).to_have_count(1, timeout=LIVE)
    assert "/v1/media/" in (thumb.get_attribute("src") or "")
    ben.page.wait_for_function(
        "() => document.querySelector('.messages li.theirs button.image img')?.naturalWidth > 0")
    assert_accessible(ana.page, "chat with an image (desktop)")
    assert_accessible(ben.page, "chat with an image (phone)")
    ben.page.get_by_role("button", name="Open the image").click()
    large = ben.page.locator("dialog.image-dialog img")
    expect(large).to_be_visible()
    ben.page.wait_for_function(
        "() => document.querySelector('dialog.image-dialog img')?.naturalWidth === 40")
    ben.page.keyboard.press("Escape")
    expect(large).to_have_count(0)

    # A reaction: Ana sees who reacted.
    ben.menu("hi ben", "React with 👍")
    chip = ana.bubble("hi ben").locator(".reaction")
    expect(chip).to_have_attribute("aria-label", f"👍 1: {pair.ben_name}", timeout=LIVE)

    # A reply quotes the message; on the other side the quote jumps to it.
    ana.menu("hello ana", "Reply")
    expect(ana.page.get_by_text(f"Replying to {pair.ben_name}")).to_be_visible()
    ana.send("a reply to you")
    reply = ben.bubble("a reply to you")
    expect(reply.locator(".quote-text")).to_have_text("hello ana", timeout=LIVE)
    expect(ana.bubble("a reply to you").locator(".quote-text")).to_have_text("hello ana")
    reply.get_by_role("button", name="Go to the original").click()
    expect(ben.page.locator(".messages li.highlight")).to_contain_text("hello ana")
    shoot(ana.page, "chat-desktop")
    shoot(ben.page, "chat-phone")

    # Ben takes his reaction back.
    ben.bubble("hi ben").locator(".reaction").click()
    expect(chip).to_have_count(0, timeout=LIVE)

    # Ana edits her first message and recalls her reply.
    ana.menu("hi ben", "Edit")
    expect(ana.page.get_by_label("Message")).to_have_value("hi ben")
    ana.page.get_by_label("Message").fill("hi ben, edited")
    ana.page.get_by_role("button", name="Save").click()
    expect(ben.bubble("hi ben, edited").locator(".edited")).to_have_text("edited", timeout=LIVE)
    ana.menu("a reply to you", "Recall")
    expect(ana.page.get_by_text("You recalled a message")).to_be_visible()
    expect(ben.page.get_by_text(f"{pair.ana_name} recalled a message")).to_be_visible(timeout=LIVE)
    expect(ben.bubble("a reply to you")).to_have_count(0)
    # "Read" stays on her newest message that is still there.
    expect(ana.page.locator(".messages .receipt")).to_have_count(1)
    assert ben.texts() == ["hi ben, edited", "hello ana"]


def user_id(server: Server, page: Page, username: str) -> str:
    usersig = page.evaluate("localStorage.getItem('tidings.home.usersig')")
    with server.http() as http:
        found = http.get(f"/v1/home/users/{username}",
                         headers={"Authorization": f"Bearer {usersig}"})
    assert found.status_code == 200, found.text
    return str(found.json()["user_id"])


def seed(server: Server, messages: list[tuple[str, str, str, int]]) -> None:
    """Stores (sender, peer, text, time) messages of the home app through the
    admin's import: a long history at once."""
    home = server.home_app()
    with server.http(home, home.admin) as http:
        for i, (sender, peer, text, at) in enumerate(messages):
            stored = http.post("/v1/admin/messages/import", json={
                "from": sender, "conversation_id": f"c2c_{peer}", "client_msg_id": f"seed-{i}",
                "elements": [{"type": "text", "text": text}], "time": at, "mode": "realtime"})
            assert stored.status_code == 200, stored.text


def test_older_history_pages_in_on_scroll_keeping_the_position(pair: Pair) -> None:
    server, ana = pair.server, pair.ana
    ana_id = user_id(server, ana.page, pair.ana_name)
    cara = unique("cara")
    home = server.home_app()
    now = int(time.time() * 1000)
    seed(server, [  # the first half two days ago, the rest today; the first is Ana's
        ((ana_id, cara) if i == 1 else (cara, ana_id)) + (
            f"old {i}", now - 2 * 86_400_000 + i if i <= 50 else now - 1000 + i)
        for i in range(1, 101)])
    ana.open_chat(cara)
    messages = ana.page.locator(".chat .messages")
    texts = ana.page.locator(".messages li.message .text")
    expect(texts).to_have_count(30)
    expect(texts.last).to_have_text("old 100")
    top = ana.bubble("old 71")
    for count in (60, 90, 100):
        messages.evaluate("el => el.scrollTop = 0")
        expect(texts).to_have_count(count)
        # What was at the top is still in view, not pushed away by the older page.
        expect(top).to_be_in_viewport()
        top = ana.bubble(f"old {101 - count + 1}")
    expect(ana.page.get_by_text("This is the beginning of the conversation.")).to_be_visible()
    assert ana.texts() == [f"old {i}" for i in range(1, 101)]
    days = ana.page.locator(".messages li.day").all_inner_texts()
    assert len(days) == 2 and days[1] == "Today", days
    # Ana's own message of two days ago: past the server's recall window
    # (120 s, from the login), editable (no edit window).
    first = ana.page.locator(".messages li#m-1")
    first.get_by_role("button", name="More").click()
    expect(first.get_by_role("button", name="Edit")).to_be_visible()
    expect(first.get_by_role("button", name="Recall")).to_have_count(0)

    # Scrolled up, a new message from Cara: a button says so and goes down to it.
    with server.http(home, home.admin) as http:
        http.post("/v1/admin/messages", json={
            "from": cara, "conversation_id": f"c2c_{ana_id}", "client_msg_id": "news",
            "elements": [{"type": "text", "text": "news from cara"}]}).raise_for_status()
    ana.page.get_by_role("button", name="1 new message").click()
    expect(ana.bubble("news from cara")).to_be_in_viewport()
    expect(ana.page.get_by_role("button", name="1 new message")).to_have_count(0)


def test_a_quote_and_a_search_hit_older_than_the_page_load_the_history_around_them(
        pair: Pair) -> None:
    """A message older than the chat's page (a quote's original, a search
    hit) loads the page around it: shown, then paging down or "Newest
    messages" comes back to the newest, with what came meanwhile."""
    server, ana = pair.server, pair.ana
    ana_id = user_id(server, ana.page, pair.ana_name)
    dora, eli = unique("dora"), unique("eli")
    home = server.home_app()
    now = int(time.time() * 1000)
    seed(server, [(dora, ana_id, f"early {i} needle" if i == 5 else f"early {i}", now - 10_000 + i)
                  for i in range(1, 121)] + [(eli, ana_id, "hi from eli", now - 20_000)])
    with server.http(home, home.admin) as http:
        http.post("/v1/admin/messages", json={
            "from": dora, "conversation_id": f"c2c_{ana_id}", "client_msg_id": "d-quote",
            "elements": [{"type": "quote", "seq": 3}, {"type": "text", "text": "remember this?"}],
        }).raise_for_status()
    ana.open_chat(dora)
    texts = ana.page.locator(".messages li.message .text")
    expect(texts).to_have_count(30)
    expect(texts.last).to_have_text("remember this?")

    # The quote's original is 90 messages back: its page comes, it is in view.
    quote = ana.bubble("remember this?").get_by_role("button", name=re.compile("the original"))
    quote.click()
    original = ana.page.locator(".messages li#m-3")
    expect(original).to_be_in_viewport()
    expect(original).to_contain_text("early 3")
    expect(texts.first).to_have_text("early 1")
    expect(ana.bubble("remember this?")).to_have_count(0)  # the page alone, no gap
    newest = ana.page.get_by_role("button", name="Newest messages")
    expect(newest).to_be_visible()
    assert_accessible(ana.page, "chat away from the newest messages")
    # Scrolled down, the next pages come in order, without a gap.
    ana.page.locator(".chat .messages").evaluate("el => el.scrollTop = el.scrollHeight")
    expect(texts.nth(59)).to_have_text("early 60")
    # A message that comes meanwhile waits; "Newest messages" shows it.
    with server.http(home, home.admin) as http:
        http.post("/v1/admin/messages", json={
            "from": dora, "conversation_id": f"c2c_{ana_id}", "client_msg_id": "d-live",
            "elements": [{"type": "text", "text": "while you read"}]}).raise_for_status()
    newest.click()
    expect(texts.last).to_have_text("while you read", timeout=LIVE)
    expect(newest).to_have_count(0)
    assert ana.texts()[-3:] == ["early 120", "remember this?", "while you read"]

    # Search finds the 5th message, older than the page: its chat opens at it
    # (from another chat: the hit waits for its own chat's first page).
    ana.open_chat(eli)
    ana.page.get_by_role("navigation", name="Sections").get_by_role(
        "button", name="Search", exact=True).click()
    ana.page.get_by_label("Search your messages").fill("needle")
    ana.page.get_by_label("Search your messages").press("Enter")
    hits = ana.page.get_by_role("list", name="Results").locator("li")
    expect(hits).to_have_count(1)
    hits.get_by_role("button").click()
    found = ana.page.locator(".chat li.found")
    expect(found).to_contain_text("early 5 needle")
    expect(found).to_be_focused()
    expect(found).to_be_in_viewport()
    expect(newest).to_be_visible()  # its page alone, not glued to the newest one
    expect(texts).to_have_count(30)
    ana.page.get_by_role("navigation", name="Sections").get_by_role(
        "button", name="Chats", exact=True).click()


def test_a_tab_offline_while_the_other_writes_gets_every_message_once_in_order(pair: Pair) -> None:
    ana, ben = pair.ana, pair.ben
    ana.open_chat(pair.ben_name)
    ben.open_chat(pair.ana_name)
    before = ben.texts()
    ben.context.set_offline(True)
    expect(ben.page.get_by_text("Not connected")).to_be_visible(timeout=LIVE)
    sent = [f"while away {i}" for i in range(1, 4)]
    for text in sent:
        ana.send(text)
        expect(ana.bubble(text).locator(".status")).to_have_count(0, timeout=LIVE)
    ben.context.set_offline(False)
    expect(ben.page.locator(".messages li.message .text")).to_have_text(
        before + sent, timeout=30_000)
    expect(ben.page.get_by_text("Not connected")).to_have_count(0)


def test_a_send_whose_answer_was_lost_is_retried_once_and_shown_once(pair: Pair) -> None:
    ana, ben = pair.ana, pair.ben
    # The first send's ack is lost on its way back (the server stored the
    # message), and the page gets an error in its place.
    first: dict[str, Any] = {"id": None, "answered": False}

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def up(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("op") == "send" and first["id"] is None:
                first["id"] = frame["id"]
            server.send(message)

        def down(message: str | bytes) -> None:
            frame = json.loads(message)
            if not first["answered"] and frame.get("re") == first["id"] and frame.get("ok"):
                first["answered"] = True
                ws.send(json.dumps({"re": first["id"], "ok": False, "error": {
                    "code": 50000, "name": "internal", "message": "lost on the way"}}))
                return
            ws.send(message)

        ws.on_message(up)
        server.on_message(down)

    ana.context.route_web_socket("**/v1/ws", route)
    ana.page.reload()
    ana.open_chat(pair.ben_name)
    ben.open_chat(pair.ana_name)
    ana.send("only once")
    failed = ana.bubble("only once").locator(".failed")
    expect(failed).to_contain_text("Not sent", timeout=LIVE)
    expect(ben.bubble("only once")).to_have_count(1, timeout=LIVE)
    failed.get_by_role("button", name="Retry").click()
    expect(failed).to_have_count(0, timeout=LIVE)
    expect(ana.bubble("only once")).to_have_count(1)
    assert first["answered"]
    ana.page.reload()  # what the server stored: once
    ana.open_chat(pair.ben_name)
    expect(ana.bubble("only once")).to_have_count(1)
    expect(ben.bubble("only once")).to_have_count(1)

    # Up in the empty box edits one's newest message; Escape leaves it as it was.
    box = ana.page.get_by_label("Message")
    box.press("ArrowUp")
    expect(ana.page.get_by_text("Editing message")).to_be_visible()
    expect(box).to_have_value("only once")
    box.press("Escape")
    expect(ana.page.get_by_text("Editing message")).to_have_count(0)
    expect(box).to_have_value("")

    # The menu by keyboard: Enter opens it, Tab goes in, Escape closes it back on "More".
    more = ana.bubble("only once").get_by_role("button", name="More")
    more.focus()
    ana.page.keyboard.press("Enter")
    ana.page.keyboard.press("Tab")
    expect(ana.bubble("only once").get_by_role("button", name="React with 👍")).to_be_focused()
    ana.page.keyboard.press("Escape")
    expect(ana.bubble("only once").get_by_role("button", name="Reply")).to_have_count(0)
    expect(more).to_be_focused()


def test_a_group_with_a_mention_read_counts_a_file_a_voice_note_and_a_draft(pair: Pair) -> None:
    server, ana, ben = pair.server, pair.ana, pair.ben
    ana_id, ben_id = (user_id(server, ana.page, n) for n in (pair.ana_name, pair.ben_name))
    group = unique("team")
    home = server.home_app()
    with server.http(home, home.admin) as http:
        made = http.post("/v1/admin/groups", json={
            "type": "Work", "group_id": group, "owner": ana_id, "members": [ben_id],
            "name": "Team"})
        assert made.status_code == 200, made.text
        said = http.post("/v1/admin/messages", json={
            "from": ana_id, "conversation_id": f"group_{group}", "client_msg_id": "welcome",
            "elements": [{"type": "text", "text": "welcome to the team"}]})
        assert said.status_code == 200, said.text

    # A draft stays with its conversation.
    ana.open_chat(pair.ben_name)
    ana.page.get_by_label("Message").fill("half a thought")
    ana.open_chat("Team")  # the list names a group by its name
    expect(ana.page.get_by_label("Message")).to_have_value("")
    ben.open_chat("Team")

    # "@" suggests the members; the one picked is mentioned and sees it.
    ana.page.get_by_label("Message").fill("hey @" + pair.ben_name[:4])
    suggested = ana.page.get_by_role("list", name="Mention someone").get_by_role("button")
    expect(suggested).to_have_text([f"@{pair.ben_name}"])
    suggested.click()
    expect(ana.page.get_by_label("Message")).to_have_value(f"hey @{pair.ben_name} ")
    ana.page.get_by_role("button", name="Send").click()
    mention = ben.bubble(f"hey @{pair.ben_name}")
    expect(mention.locator(".at-me-mark")).to_have_text("Mentions you", timeout=LIVE)
    # Ben has the group open: he read it, and Ana's message counts him.
    mine = ana.bubble(f"hey @{pair.ben_name}")
    expect(mine.locator(".receipt")).to_have_text("Read by 1", timeout=LIVE)
    mine.get_by_role("button", name="Read by 1").click()  # who: group_readers
    expect(mine.locator(".readers")).to_have_text(f"Read by {pair.ben_name}")

    # A file, downloaded by its name with its bytes; a voice note to play.
    notes = b"minutes of the meeting\n" * 3
    files: list[FilePayload] = [
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": notes},
        {"name": "hello.wav", "mimeType": "audio/wav", "buffer": wav(0.5)},
        # The browser calls it an image; the server reads no image in it: a file.
        {"name": "drawing.svg", "mimeType": "image/svg+xml", "buffer": SVG}]
    upload = ana.page.locator(".compose input[type=file]")
    for payload in files:
        upload.set_input_files(files=[payload])
    link = ben.page.get_by_role("link", name=f"Download notes.txt {len(notes)} B")
    expect(link).to_have_attribute("href", re.compile("/v1/media/"), timeout=LIVE)
    with ben.page.expect_download() as got:
        link.click()
    assert got.value.suggested_filename == "notes.txt"
    assert Path(got.value.path()).read_bytes() == notes
    expect(ben.page.locator(".messages audio.sound")).to_have_attribute(
        "src", re.compile("/v1/media/"), timeout=LIVE)
    expect(ben.page.get_by_role("link", name=f"Download drawing.svg {len(SVG)} B")).to_be_visible(
        timeout=LIVE)
    expect(ana.page.locator(".messages li.failed")).to_have_count(0)

    # Her location, as a map link.
    ana.context.grant_permissions(["geolocation"], origin=server.base_url)
    ana.context.set_geolocation({"latitude": 48.8566, "longitude": 2.3522})
    ana.page.get_by_role("button", name="Share my location").click()
    place = ben.page.get_by_role("link", name="Location 48.85660, 2.35220")
    osm = re.compile(r"openstreetmap\.org/\?mlat=48\.8566&mlon=2\.3522")
    expect(place).to_have_attribute("href", osm, timeout=LIVE)

    # The server kept the draft too (for her other devices): without this
    # browser's copy, it comes from there.
    ana.page.evaluate("""Object.keys(localStorage).filter((k) => k.startsWith('tidings.draft.'))
                         .forEach((k) => localStorage.removeItem(k))""")
    ana.open_chat(pair.ben_name)
    expect(ana.page.get_by_label("Message")).to_have_value("half a thought")
    ana.page.get_by_label("Message").fill("")


def home_account(server: Server, username: str) -> dict[str, Any]:
    """A home account over REST, named by its username: its user_id and usersig."""
    with server.http() as http:
        me = http.post("/v1/home/register", json={"username": username, "password": PASSWORD})
        assert me.status_code == 200, me.text
        named = http.patch("/v1/home/me", json={"display_name": username},
                           headers={"authorization": f"Bearer {me.json()['usersig']}"})
        assert named.status_code == 200, named.text
    return {**me.json(), "username": username}


def write(server: Server, sender: dict[str, Any], to: str, text: str) -> None:
    with server.http() as http:
        sent = http.post("/v1/messages", headers={"Authorization": f"Bearer {sender['usersig']}"},
                         json={"conversation_id": f"c2c_{to}", "client_msg_id": unique("m"),
                               "elements": [{"type": "text", "text": text}]})
    assert sent.status_code == 200, sent.text


def until_unread(server: Server, usersig: str, conversation_id: str, unread: int) -> None:
    """Waits for the server's unread count of one of the caller's conversations."""
    deadline = time.monotonic() + 15
    while True:
        with server.http() as http:
            reply = http.get("/v1/conversations", headers={"Authorization": f"Bearer {usersig}"})
        assert reply.status_code == 200, reply.text
        [now] = [c["unread"] for c in reply.json()["conversations"]
                 if c["conversation_id"] == conversation_id]
        if now == unread:
            return
        assert time.monotonic() < deadline, f"{conversation_id}: unread {now}, never {unread}"
        time.sleep(0.05)


def test_a_message_for_the_chat_just_left_stays_unread(
        chat_server: Server, browser: Browser) -> None:
    """A message for the chat the person just left reaches the page in the
    same task as the click on another chat (held in the page, then let
    through): the chat left used to mark it read (its handlers live until
    the next paint), so neither its row nor the server counted it."""
    server = chat_server
    bo, cy = home_account(server, unique("bo")), home_account(server, unique("cy"))
    context, page = open_page(browser, server, init=HOLD_FRAMES)
    try:
        name = unique("dee")
        register(page, name)
        me = user_id(server, page, name)
        usersig = page.evaluate("localStorage.getItem('tidings.home.usersig')")
        write(server, bo, me, "Lunch?")
        write(server, cy, me, "Call me")
        rows = page.locator(".conversations li")
        bo_row, cy_row = rows.filter(has_text=bo["username"]), rows.filter(has_text=cy["username"])
        bo_row.get_by_role("button").click()
        expect(page.get_by_role("heading", name=bo["username"])).to_be_visible()
        until_unread(server, usersig, f"c2c_{bo['user_id']}", 0)  # open: read

        page.evaluate("window.heldFrames.hold = /\"event\":\"message\".*At one/")
        write(server, bo, me, "At one?")
        page.wait_for_function("window.heldFrames.frames.length === 1")
        cy_row.get_by_role("button").evaluate(
            "(button) => { button.click(); window.heldFrames.release(); }")
        expect(page.get_by_role("heading", name=cy["username"])).to_be_visible()
        expect(bo_row).to_contain_text("At one?")
        expect(bo_row.get_by_label("1 unread")).to_have_text("1")
        # Cy's chat's read reached the server after any read of Bo's (one socket, in order).
        until_unread(server, usersig, f"c2c_{cy['user_id']}", 0)
        until_unread(server, usersig, f"c2c_{bo['user_id']}", 1)
        expect(bo_row.get_by_label("1 unread")).to_have_text("1")
    finally:
        context.close()
