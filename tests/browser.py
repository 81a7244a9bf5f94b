"""Headless Chromium for the tests of Tidings' own web pages (the link page,
/docs and /redoc), driven by Playwright: Debian's Chromium, which
scripts/test installs; the tests are skipped where it is missing, unless
``TIDINGS_TEST_REQUIRE_CHROMIUM`` says it must be there."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and os.environ.get("TIDINGS_TEST_REQUIRE_CHROMIUM"):
    raise RuntimeError("Chromium is required (TIDINGS_TEST_REQUIRE_CHROMIUM) but not found")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


def chromium() -> Iterator[Browser]:
    """A browser for a module's tests (wrap it in a fixture)."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()
