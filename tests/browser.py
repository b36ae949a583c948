"""Debian's Chromium driven by Playwright; never a browser download."""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack, contextmanager

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium dials Google's hosts at start and this closed network refuses them.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM)


@contextmanager
def launched_browser():
    """Chromium, for the block; `browser_page(browser=...)` opens pages in it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def browser_page(viewport=(1280, 900), browser=None):
    """A page in a context of its own (cookies, storage and cache of its own), in `browser`, or
    in a Chromium launched for it.

    A module whose tests never touch Django in this process (pages of static scripts) shares one
    `launched_browser()` across its tests, which saves a Chromium start per test. Others launch
    their own: while Playwright's sync API is started, this thread has a running event loop,
    which Django's database access and `async_to_sync` refuse between tests."""
    with ExitStack() as stack:
        if browser is None:
            browser = stack.enter_context(launched_browser())
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        stack.callback(context.close)
        yield context.new_page()


def sign_in(page, base_url: str, username: str = "alice", password: str = "pw-alice") -> None:
    """Through the sign-in page, as one of the standing test users (conftest.py: alice is the
    admin), then wait for the top bar's role badge."""
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=role-badge]")
