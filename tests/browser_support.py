"""Headless Chromium for the tests that look at a page as a user does: Debian's ``chromium``
(``/usr/bin/chromium``) driven by Playwright's Python API with ``executable_path`` (no browser
download).

Without Chromium or Playwright a test using ``chromium_page`` is skipped with the reason, unless
``FORAGE_REQUIRE_BROWSER=1`` (``.ci/run`` sets it after installing both), where their absence
fails. ``keep_screenshot`` copies a screenshot into ``$FORAGE_SCREENSHOT_DIR`` when that is set.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def _need(ok: bool, why: str) -> None:
    if ok:
        return
    if os.environ.get("FORAGE_REQUIRE_BROWSER") == "1":
        pytest.fail(why)
    pytest.skip(why)


@contextlib.contextmanager
def chromium_page(*, console_errors: bool = False) -> Iterator[tuple[Any, list[str]]]:
    """A fresh 1280x900 page and the list its script errors (and, with ``console_errors``, its
    console errors) are put in."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    _need(sync_playwright is not None, "playwright is not installed (pip install playwright)")
    _need(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            if console_errors:
                page.on("console",
                        lambda m: errors.append(m.text) if m.type == "error" else None)
            yield page, errors
        finally:
            browser.close()


def keep_screenshot(shot: Path) -> None:
    """Check ``shot`` is a PNG and copy it into ``$FORAGE_SCREENSHOT_DIR`` when that is set."""
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("FORAGE_SCREENSHOT_DIR"):
        target = Path(os.environ["FORAGE_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / shot.name)
