"""The Secret panel as a dialog on the provider list, in a real browser against the real site
(daphne, websockets, the project's static files): set, rotate, clear with its confirmation and
restore, each updating the card's Security section without a reload; policy `none` locked with
"No secret required"; the value in no page, DOM, storage, URL or websocket frame."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from http import HTTPStatus

import pytest

from tests.browser import browser_page, launched_browser
from tests.site_process import configured_site
from tests.test_browser import save_screenshot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    # One Chromium for the module, a context of its own per test: the site is a child process,
    # so nothing in this process touches Django while Playwright's event loop is started.
    with launched_browser() as browser:
        yield browser


ADMIN_PASSWORD = "pw-alice-" + "x" * 8
VIEWER_PASSWORD = "pw-victor-" + "x" * 8


class Canary(str):
    """A secret value whose repr never shows it, so no failing assertion prints it."""

    def __repr__(self) -> str:
        return "<canary>"


@contextmanager
def console_site():
    """The site on SQLite, or on a scratch PostgreSQL database and Redis when the suite runs
    with them, serving its static files; an admin and a viewer who sign in with passwords."""
    with configured_site() as site:
        yield _with_users(site)


def _with_users(site):
    site.api = site.api_session(site.operators_with_token({"alice": ("admin", ADMIN_PASSWORD), "victor": ("viewer", VIEWER_PASSWORD)}, token_for="alice"))
    return site


class Watch:
    """Everything the browser sent or received that could carry a value: websocket frames both
    ways and every request's URL."""

    def __init__(self, page):
        self.frames: list[str] = []
        self.urls: list[str] = []
        page.on("websocket", self._socket)
        page.on("request", lambda request: self.urls.append(request.url))

    def _socket(self, socket) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(str(payload)))
        socket.on("framesent", lambda payload: self.frames.append(str(payload)))

    def assert_never_saw(self, page, *values: str) -> None:
        storage = page.evaluate(
            "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
        content = page.content()
        dom_values = page.evaluate(
            "() => Array.from(document.querySelectorAll('input, textarea')).map(e => e.value).join('\\n')"
        )
        for value in values:
            assert value not in content, "a secret value is in the page source"
            assert value not in dom_values, "a secret value is still in an input"
            assert value not in storage, "a secret value is in localStorage/sessionStorage"
            assert not any(value in frame for frame in self.frames), "a secret value is in a websocket frame"
            assert not any(value in url for url in self.urls), "a secret value is in a request URL"


@pytest.fixture(scope="module")
def site():
    with console_site() as site:
        for body in (
            {"id": "p1", "name": "p1", "display_name": "Prod one", "kind": "openai_compatible", "secret_policy": "required",
             "endpoint": "http://127.0.0.1:9/v1", "default_model": "m", "priority": 10},
            {"id": "local", "name": "local", "kind": "ollama", "secret_policy": "none",
             "endpoint": "http://127.0.0.1:9", "default_model": "llama3.2:3b", "priority": 20},
        ):
            created = site.api.post(site.url + "/api/providers", json=body, timeout=10)
            assert created.status_code == HTTPStatus.CREATED, created.text
        yield site


def open_panel(page, provider_id: str) -> None:
    page.click(f"[data-testid=secret-{provider_id}]")
    try:
        page.wait_for_selector("dialog[open] [data-testid=secret-panel]")
    except Exception as exc:  # say what the dialog shows instead (a fetch error, nothing at all)
        shown = page.evaluate("() => { const d = document.querySelector('dialog'); return d ? [d.open, d.innerText] : null }")
        raise AssertionError(f"the secret panel did not open; the dialog: {shown!r}") from exc


def security(page, provider_id: str) -> str:
    return page.inner_text(f"[data-testid=security-{provider_id}]")


def wait_for_security(page, provider_id: str, text: str, timeout_s: float = 5.0) -> None:
    """Until the card's Security section says `text`; the page notes when (`window.__securitySeen`,
    performance.now(), checked every frame)."""
    page.wait_for_function(
        "([id, text]) => { const e = document.querySelector(`[data-testid=security-${id}]`);"
        " if (e && e.innerText.includes(text)) { window.__securitySeen = performance.now(); return true } return false }",
        arg=[provider_id, text], timeout=timeout_s * 1000, polling="raf",
    )


# In the page, before the click: note when the click happens and, every frame, when the card's
# Security section first says the expected text (the page's own clock, so neither the test's
# driving nor its polling counts).
WATCH_CARD = """([id, text]) => {
  window.__clicked = window.__securitySeen = undefined;
  document.addEventListener('click', () => { window.__clicked = performance.now() }, { capture: true, once: true });
  const look = () => {
    const e = document.querySelector(`[data-testid=security-${id}]`);
    if (window.__clicked !== undefined && e && e.innerText.includes(text)) window.__securitySeen = performance.now();
    else requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
}"""


# The same for any selector (`window.__selectorSeen`), against the click `WATCH_CARD` notes.
WATCH_SELECTOR = """(selector) => {
  window.__selectorSeen = undefined;
  const look = () => {
    if (window.__clicked !== undefined && document.querySelector(selector)) window.__selectorSeen = performance.now();
    else requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
}"""


def act(page, submit_selector: str, toast: str, provider_id: str, state: str) -> float:
    """Click, wait for the card's Security section to show `state`, the toast and the dialog to
    close; the seconds from the click to the card (the issue's one second)."""
    page.evaluate(WATCH_CARD, [provider_id, state])
    page.click(submit_selector)
    page.wait_for_function("() => window.__securitySeen !== undefined", timeout=10_000)
    page.wait_for_selector(f"text={toast}", timeout=10_000)
    page.wait_for_selector("dialog[data-testid=secret-dialog]:not([open])", state="attached")
    took, post = page.evaluate(
        "() => { const posts = performance.getEntriesByType('resource').filter(e => e.initiatorType === 'fetch'"
        " && e.startTime >= window.__clicked && e.name.includes('/secret/'));"
        " const p = posts[0]; return [(window.__securitySeen - window.__clicked) / 1000,"
        " p ? [p.startTime - window.__clicked, p.responseEnd - p.startTime, window.__securitySeen - p.responseEnd] : null] }"
    )
    breakdown = "" if post is None else " (click to post {:.0f} ms, post {:.0f} ms, answer to card {:.0f} ms)".format(*post)
    print(f"{toast} card updated {took:.3f} s after the click{breakdown}")
    assert 0 < took < 1.0, took
    return took


def test_set_rotate_clear_restore_from_the_card_without_a_reload(site, browser):
    canary = Canary("canary-" + secrets.token_hex(12))
    rotated = Canary("rotated-" + secrets.token_hex(12))
    with browser_page(browser=browser) as page:
        watch = Watch(page)
        sign_in(page, site.url, "alice", ADMIN_PASSWORD)
        page.wait_for_selector("[data-testid=secret-p1]")
        page.evaluate("window.__same_page = true")
        assert "secret missing" in security(page, "p1")

        # Opens as a modal dialog with focus inside; Esc closes it and focus comes back.
        open_panel(page, "p1")
        assert page.evaluate("document.activeElement.closest('dialog') !== null")
        box = page.locator("dialog [name=value]")
        assert box.get_attribute("type") == "password" and box.get_attribute("autocomplete") == "off"
        page.keyboard.press("Escape")
        page.wait_for_selector("dialog[data-testid=secret-dialog]:not([open])", state="attached")
        assert page.evaluate("document.activeElement.dataset.testid") == "secret-p1"

        # A bad value: the error shows inline, the dialog stays, the box is empty.
        open_panel(page, "p1")
        page.fill("dialog [name=value]", " " + canary)
        page.click("dialog [data-testid=secret-submit]")
        page.wait_for_selector("dialog[open] [data-testid=error-value]")
        assert "whitespace" in page.inner_text("dialog [data-testid=error-value]")
        assert page.input_value("dialog [name=value]") == ""

        page.click("dialog [data-testid=secret-dialog-close]")

        # A Test without a secret fails with missing_secret ("none is stored") on the card.
        page.click("[data-testid=test-p1]")
        page.wait_for_selector("article#provider-p1 .status >> text=none is stored", timeout=15_000)

        # Set: the card's Security section at once, and the stale error no longer says none is stored.
        open_panel(page, "p1")
        page.fill("dialog [name=value]", canary)
        page.fill("dialog [name=secret_id_hint]", "prod-key-feb")
        page.evaluate(WATCH_SELECTOR, "article#provider-p1 .status [data-testid=stale-error]")
        act(page, "dialog [data-testid=secret-submit]", "Secret set for p1 (version 1).", "p1", "secret present")
        page.wait_for_function("() => window.__selectorSeen !== undefined", timeout=5_000)
        stale = page.evaluate("() => (window.__selectorSeen - window.__clicked) / 1000")
        print(f"the stale missing_secret error gave way {stale:.3f} s after the click")
        assert 0 < stale < 1.0, stale
        status = page.inner_text("article#provider-p1 .status")
        assert "none is stored" not in status and "the next Test will use it" in status
        page.wait_for_function("() => document.activeElement && document.activeElement.dataset.testid === 'secret-p1'")
        assert "prod-key-feb" in security(page, "p1")
        watch.assert_never_saw(page, canary)

        # Rotate.
        open_panel(page, "p1")
        assert page.inner_text("dialog [data-testid=secret-submit]") == "Rotate secret"
        page.fill("dialog [name=value]", rotated)
        act(page, "dialog [data-testid=secret-submit]", "Secret rotated for p1 (version 2).", "p1", "v2")
        watch.assert_never_saw(page, canary, rotated)

        # Clear asks first; cancelling changes nothing.
        open_panel(page, "p1")
        page.click("dialog [data-testid=secret-clear]")
        page.wait_for_selector("dialog[open] [data-testid=confirm-clear-step]")
        assert "Clear the secret of Prod one?" in page.inner_text("dialog [data-testid=confirm-clear-step]")
        page.click("dialog [data-testid=cancel-clear]")
        page.wait_for_selector("dialog[open] [data-testid=secret-clear]")
        assert "secret present" in security(page, "p1")
        page.click("dialog [data-testid=secret-clear]")
        page.wait_for_selector("dialog[open] [data-testid=confirm-clear]")
        act(page, "dialog [data-testid=confirm-clear]", "Secret cleared for p1 (version 3).", "p1", "secret missing")

        # Restore the rotated value (version 2).
        open_panel(page, "p1")
        assert page.locator("dialog [data-testid=restore-1]").count() == 1
        act(page, "dialog [data-testid=restore-2]", "Secret restored for p1 (version 4).", "p1", "v4")
        assert "secret present" in security(page, "p1")

        assert page.evaluate("window.__same_page") is True  # never reloaded
        watch.assert_never_saw(page, canary, rotated)
        open_panel(page, "p1")
        # The label is kept for the next rotate (a label is no secret).
        assert page.input_value("dialog [name=secret_id_hint]") == "prod-key-feb"
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": 1280, "height": height})  # the backdrop covers the whole picture
        save_screenshot(page, "secret-panel")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.click("dialog [data-testid=secret-dialog-close]")

        # Policy none: the action is there, locked, and says why.
        assert "No secret required" in security(page, "local")
        local = page.locator("[data-testid=secret-local]")
        assert local.is_disabled() and local.get_attribute("title") == "No secret required"

        # On a phone the dialog fits and its buttons are tall enough.
        page.set_viewport_size({"width": 390, "height": 844})
        open_panel(page, "p1")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        heights = page.locator("dialog button:visible").evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
        assert heights and min(heights) >= 32, heights
        watch.assert_never_saw(page, canary, rotated)


def test_a_viewer_sees_the_secret_action_locked(site, browser):
    with browser_page(browser=browser) as page:
        sign_in(page, site.url, "victor", VIEWER_PASSWORD)
        page.wait_for_selector("[data-testid=secret-p1]")
        button = page.locator("[data-testid=secret-p1]")
        assert button.is_disabled() and button.get_attribute("title") == "Viewers cannot change providers"
        response = page.goto(site.url + "/providers/p1/secret/")
        assert response.status == HTTPStatus.FORBIDDEN
