"""Test and Run all checks in a real browser against the real site (daphne, websockets).

Four providers on local simulators: two that answer at once, one that fails with a 500 and one
that never answers, so its probe lasts its whole timeout (4 s). Run all must answer at once,
leave the page usable, show "Checked n of N" advancing before the hung probe ends, update the
fast providers' cards before the run ends, refuse a second Run all while it runs, and end with
a summary table, failures first. Test on a card updates the card in place.
"""

from __future__ import annotations

import time
from http import HTTPStatus

import pytest

from health.simulator import Route, SimulatorServer
from tests.browser import browser_page, launched_browser
from tests.site_process import configured_site
from tests.test_browser import save_screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    # One Chromium for the module, a context of its own per test: the site is a child process,
    # so nothing in this process touches Django while Playwright's event loop is started.
    with launched_browser() as browser:
        yield browser


HUNG_TIMEOUT_MS = 4000
PASSWORD = "pw-alice-" + "x" * 8
PANEL = "#check-run"
COUNT = "[data-testid=check-run-count]"


@pytest.fixture(scope="module")
def simulator():
    routes = [
        Route("/fast/v1", "openai_compatible", ["m"]),
        Route("/down/v1", "openai_compatible", ["m"], failures=("500",)),
        Route("/hang/v1", "openai_compatible", ["m"], failures=("hang",)),
    ]
    with SimulatorServer(routes) as server:
        yield server


@pytest.fixture(scope="module")
def site(simulator):
    with configured_site() as site:
        yield prepared(site, simulator)


def prepared(site, simulator):
    site.api = site.api_session(site.operators_with_token({"alice": ("admin", PASSWORD)}, token_for="alice"))
    for pid, prefix, priority, timeout in (
        ("fast-a", "/fast/v1", 10, 2000),
        ("fast-b", "/fast/v1", 20, 2000),
        ("down", "/down/v1", 30, 2000),
        ("hung", "/hang/v1", 40, HUNG_TIMEOUT_MS),
    ):
        created = site.api.post(
            site.url + "/api/providers",
            json={"id": pid, "name": pid, "kind": "openai_compatible", "secret_policy": "none",
                  "endpoint": simulator.url(prefix), "default_model": "m", "priority": priority,
                  "timeout_ms": timeout, "retries": 0},
            timeout=10,
        )
        assert created.status_code == HTTPStatus.CREATED, created.text
    return site


def sign_in(page, site) -> None:
    page.goto(site.url + "/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=role-badge]")


def open_list_with_stream(page, site) -> list[str]:
    """The list page with its audit stream connected (the hello frame received)."""
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    page.goto(site.url + "/")
    page.wait_for_selector("article.card[data-provider=hung]")
    deadline = time.monotonic() + 10
    while not any('"hello"' in f for f in frames):
        assert time.monotonic() < deadline, "the audit stream never said hello"
        page.wait_for_timeout(50)
    page.evaluate("window.__marker = 1")
    return frames


def card_text(page, pid: str) -> str:
    return page.inner_text(f"article.card[data-provider={pid}] .status")


def test_test_on_a_card_shows_the_result_in_place(site, browser):
    with browser_page(browser=browser) as page:
        sign_in(page, site)
        open_list_with_stream(page, site)
        assert "never checked" in card_text(page, "fast-a")
        began = time.monotonic()
        page.click("[data-testid=test-fast-a]")
        page.wait_for_selector(".toast-success")
        toasted = time.monotonic() - began
        page.wait_for_function("() => / ms/.test(document.querySelector("
                               "'article.card[data-provider=fast-a] .status').innerText)")
        updated = time.monotonic() - began
        print(f"Test in place: toast after {toasted * 1000:.0f} ms, card updated after {updated * 1000:.0f} ms")
        assert page.inner_text(".toast-success").startswith("fast-a: pass in ")
        assert "never checked" not in card_text(page, "fast-a")
        assert page.evaluate("window.__marker") == 1  # no navigation
        assert page.url == site.url + "/"
        # The button is usable again after the test.
        assert page.is_enabled("[data-testid=test-fast-a]")


def test_run_all_with_a_hung_provider_never_blocks_and_ends_with_a_summary(site, browser):
    with browser_page(browser=browser) as page:
        sign_in(page, site)
        open_list_with_stream(page, site)
        assert page.is_hidden(PANEL)

        began = time.monotonic()
        page.click("[data-testid=run-all-checks]")
        page.wait_for_selector(f"{PANEL}:not([hidden]) {COUNT}:has-text('of 4')")
        answered = time.monotonic() - began
        post_ms = page.evaluate("performance.getEntriesByType('resource')"
                                ".filter(e => e.name.endsWith('/checks/run-all/'))[0].duration")
        print(f"Run all: the click answered in {answered * 1000:.0f} ms (the POST itself took {post_ms:.0f} ms)")
        assert answered < 1.0 and post_ms < 1000

        # Partial progress over the websocket, before the hung probe's 4 s timeout.
        page.wait_for_function(f"() => document.querySelector({COUNT!r}).textContent === 'Checked 3 of 4'",
                               timeout=HUNG_TIMEOUT_MS)
        partial = time.monotonic() - began
        print(f"Run all: 'Checked 3 of 4' after {partial * 1000:.0f} ms (the hung provider times out at {HUNG_TIMEOUT_MS} ms)")
        assert partial < HUNG_TIMEOUT_MS / 1000
        assert page.get_attribute(f"{PANEL} progress", "value") == "3"

        # The fast providers' cards show their results while the run is still going.
        page.wait_for_function("() => ['fast-b', 'down'].every(id => / ms|server_error/.test("
                               "document.querySelector(`article.card[data-provider=${id}] .status`).innerText))",
                               timeout=HUNG_TIMEOUT_MS)
        cards_at = time.monotonic() - began
        print(f"Run all: fast providers' cards updated after {cards_at * 1000:.0f} ms")
        assert "server_error" in card_text(page, "down")
        assert "never checked" not in card_text(page, "fast-b")
        assert page.inner_text(COUNT) == "Checked 3 of 4"  # the run has not ended yet
        assert page.locator("[data-testid=check-summary]").count() == 0

        # The page stays usable: type in the search box, Test another card, open and close a row.
        page.fill("input[name=search]", "fast")
        assert page.input_value("input[name=search]") == "fast"
        page.fill("input[name=search]", "")
        test_began = time.monotonic()
        page.click("[data-testid=test-fast-b]")
        page.wait_for_selector(".toast-success:has-text('fast-b: pass in')")
        print(f"Run all: a Test during the run answered in {(time.monotonic() - test_began) * 1000:.0f} ms")
        row = page.locator("[data-testid=recent-events] tbody tr:first-child details")
        row.locator("summary").click()
        assert row.evaluate("d => d.open") is True
        row.locator("summary").click()
        assert row.evaluate("d => d.open") is False
        page.click("[data-testid=run-all-checks]")  # a second Run all is refused with the reason
        refused = page.wait_for_selector(".toast-error:has-text('Checks are already running')")
        assert "started by alice at " in refused.inner_text()
        assert time.monotonic() - began < HUNG_TIMEOUT_MS / 1000, "the checks above ran after the hung probe ended"

        # The end: the summary table, failures first, with the hung provider's timeout reason.
        page.wait_for_selector("[data-testid=check-summary]", timeout=HUNG_TIMEOUT_MS + 5000)
        ended = time.monotonic() - began
        print(f"Run all: summary shown after {ended * 1000:.0f} ms")
        assert page.inner_text(COUNT) == "Checked 4 of 4"
        rows = page.locator("[data-testid=check-summary] tbody tr")
        texts = rows.all_inner_texts()
        assert [rows.nth(i).get_attribute("data-provider") for i in range(4)] == ["down", "hung", "fast-a", "fast-b"]
        assert "timeout" in texts[1] and f"within the provider's timeout of {HUNG_TIMEOUT_MS} ms" in texts[1]
        assert "server_error" in texts[0]
        assert all("pass" in t and " ms" in t for t in texts[2:])
        assert "Checks finished: 4 checked, 2 passed, 2 failed." in page.inner_text(PANEL)
        assert page.evaluate("window.__marker") == 1

        # The live list refreshed meanwhile and kept the panel; the hung card says why.
        page.wait_for_function("() => /timeout/.test(document.querySelector("
                               "'article.card[data-provider=hung] .status').innerText)")
        save_screenshot(page, "run-all")
        # Usable at 390 px: no horizontal scroll with the summary open.
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        height = page.evaluate("document.querySelector('[data-check-run-close]').getBoundingClientRect().height")
        assert height >= 32
        page.click("[data-check-run-close]")
        assert page.is_hidden(PANEL)
