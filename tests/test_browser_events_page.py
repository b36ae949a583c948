"""The events page in a real browser against the real site (daphne, websockets): a change made
through the API by another client appears at the top of an open page within a second, with no
reload, masked for a viewer; the filters in the URL also apply to live rows."""

from __future__ import annotations

import secrets
import time
from http import HTTPStatus

import pytest

from tests.browser import browser_page
from tests.site_process import site_process
from tests.test_browser import sign_in

pytestmark = pytest.mark.browser

NEWEST_ROW = "table.events > tbody > tr:first-child"


@pytest.fixture(scope="module")
def site():
    with site_process() as site:
        site.api = site.api_session(site.operators_with_token({"alice": ("admin", None), "victor": ("viewer", "pw-victor-" + "x" * 8)}, token_for="alice"))
        for provider_id in ("p1", "p2"):
            created = site.api.post(
                site.url + "/api/providers",
                json={"id": provider_id, "name": provider_id, "kind": "openai_compatible", "secret_policy": "none",
                      "endpoint": "http://127.0.0.1:9/v1", "default_model": "m"},
                timeout=10,
            )
            assert created.status_code == HTTPStatus.CREATED, created.text
        yield site


def wait_for_row(page, predicate_js: str, timeout_s: float = 5.0) -> None:
    page.wait_for_function(predicate_js, timeout=timeout_s * 1000, polling="raf")


def test_a_change_through_the_api_appears_at_the_top_within_a_second_and_filters_apply(site):
    canary = "canary-" + secrets.token_hex(6)
    with browser_page() as page:
        frames = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
        sign_in(page, site.url, "victor", "pw-victor-" + "x" * 8)
        page.goto(site.url + "/events/")
        page.wait_for_selector(NEWEST_ROW)
        newest_before = int(page.get_attribute(NEWEST_ROW, "data-event-id"))
        page.evaluate("window.__same_page = true")
        # The stream is connected (the hello has come) before the change is made.
        page.wait_for_function("() => { const s = window.ProviderConsole.eventsPageStream; "
                               "return s && s.socket && s.socket.readyState === 1 }")
        time.sleep(0.2)

        delays = []
        for i, priority in enumerate((11, 12, 13)):
            began = time.monotonic()
            changed = site.api.patch(site.url + "/api/providers/p1", json={"priority": priority,
                                     "metadata": {"note": f"{canary}-{i}"}}, timeout=10)
            assert changed.status_code == HTTPStatus.OK, changed.text
            wait_for_row(page, f"() => Number(document.querySelector({NEWEST_ROW!r})?.dataset.eventId) > {newest_before}")
            delays.append(time.monotonic() - began)
            newest_before = int(page.get_attribute(NEWEST_ROW, "data-event-id"))

        print(f"event-to-screen delays (s): {[round(d, 3) for d in delays]}")
        assert max(delays) < 1.0, delays
        assert page.evaluate("window.__same_page") is True  # no reload
        row = page.locator(NEWEST_ROW)
        assert row.locator("code").first.inner_text() == "provider.updated"
        assert "p1" in row.inner_text()
        row.locator("summary").click()
        expanded = row.inner_text()
        assert "priority" in expanded and "***" in expanded and "(values masked)" in expanded
        # A viewer never gets the values: not in the page, not in a frame.
        assert canary not in page.content()
        assert not any(canary in str(frame) for frame in frames)

        # The filters in the URL apply to live rows too (same browser: one sign-in).
        page.goto(site.url + "/events/?provider_id=p2")
        page.wait_for_function("() => { const s = window.ProviderConsole.eventsPageStream; "
                               "return s && s.socket && s.socket.readyState === 1 }")
        shown = page.locator("table.events > tbody > tr").count()
        assert site.api.patch(site.url + "/api/providers/p1", json={"priority": 31}, timeout=10).status_code == 200
        assert site.api.patch(site.url + "/api/providers/p2", json={"priority": 32}, timeout=10).status_code == 200
        wait_for_row(page, f"() => document.querySelectorAll('table.events > tbody > tr').length > {shown}")
        time.sleep(0.3)
        rows = page.locator("table.events > tbody > tr").all_inner_texts()
        assert len(rows) == shown + 1
        assert "p2" in rows[0] and all("p1" not in row.split("\t")[2] for row in rows)

        # Usable on a phone: no horizontal scroll at 390 px, with a row opened.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(site.url + "/events/")
        page.locator(NEWEST_ROW + " summary").click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
