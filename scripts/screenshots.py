"""Screenshots of the web messenger's main screens for docs/screenshots/,
at a desktop (1280x800) and a phone (390x844) size, against a throwaway
server in this process (the tests' InProcessServer) and Debian's Chromium.

    .venv/bin/python scripts/screenshots.py            # every set
    .venv/bin/python scripts/screenshots.py platform   # one set

Each set of screens is one function in SETS, kept by the engineer whose
screens it shows; a set writes its own files and says which."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, expect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import chromium  # noqa: E402
from tests.clients.pages import (  # noqa: E402
    DESKTOP,
    PHONE,
    open_page,
    register,
    start_chat,
    tab_to,
    unique,
)
from tests.support import InProcessServer, Server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def platform(browser: Browser, server: Server) -> list[Path]:
    """Accessibility and Web Push: the list with the Notifications switch and
    a keyboard focus ring on a conversation (desktop); the chat reached by
    keyboard with the focus in the message field (phone)."""
    ana_ctx, ana = open_page(browser, server, DESKTOP, notifications=True)
    ben_ctx, ben = open_page(browser, server, PHONE)
    try:
        ana_name, ben_name = unique("ana"), unique("ben")
        register(ana, ana_name)
        register(ben, ben_name)
        start_chat(ben, ana_name, "Are you coming tonight?")
        entry = ana.get_by_role("button", name=ben_name)
        expect(entry).to_be_visible(timeout=15_000)
        tab_to(ana, ".conversations button")
        desktop = OUT / "platform-list-keyboard.png"
        ana.screenshot(path=str(desktop))
        ben.keyboard.press("Escape")
        tab_to(ben, ".conversations button")
        ben.keyboard.press("Enter")
        ben.keyboard.type("Yes, see you at 8")
        phone = OUT / "platform-chat-keyboard-phone.png"
        ben.screenshot(path=str(phone))
        return [desktop, phone]
    finally:
        ana_ctx.close()
        ben_ctx.close()


SETS: dict[str, Callable[[Browser, Server], list[Path]]] = {"platform": platform}


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        server = InProcessServer(Path(data), "", {})
        server.start()
        try:
            for browser in chromium():
                for name in names or list(SETS):
                    for path in SETS[name](browser, server):
                        print(path.relative_to(ROOT))
        finally:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
