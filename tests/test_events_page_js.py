"""static/js/events_page.js draws a live row as the server draws it: the same before/after
rules as console/eventrows.py, and text only (an event's summary or values never become HTML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.events import mask_payload
from console.eventrows import payload_view
from tests.browser import browser_page, launched_browser

pytestmark = pytest.mark.browser

SCRIPT = Path(__file__).resolve().parent.parent / "static" / "js" / "events_page.js"

PAYLOADS = [
    {"changes": {"priority": {"before": 10, "after": 20}, "models": {"before": ["a", "b"], "after": ["b"]}}, "version": 3},
    {"changes": {"metadata": {"before": {"z": 1, "a": None}, "after": {"a": True}}}},
    {"fields": {"id": "p1", "enabled": True, "fallback_models": [], "timeout_ms": 1500}},
    {"before": "active", "after": "degraded", "reason": "slow: p95 2400 ms"},
    {"before": {"status": "active"}, "after": {"status": "standby", "enabled": False}},
    {"ok": False, "latency_ms": None, "error_code": "server_error", "nested": {"k": [1, 2.5, "x"]}},
    {"action": "rotate", "version": 4, "hint": "prod ключ"},
    {},
]


@pytest.fixture(scope="module")
def browser():
    # One Chromium for the module: these pages load static scripts only, no Django in between.
    with launched_browser() as browser:
        yield browser


@pytest.fixture
def page(browser):
    with browser_page(browser=browser) as page:
        page.set_content("<!doctype html><title>events page</title><body></body>")
        page.add_script_tag(path=str(SCRIPT))
        yield page


@pytest.mark.parametrize("masked", [False, True])
def test_live_rows_follow_the_servers_payload_rules(page, masked):
    for payload in PAYLOADS:
        payload = mask_payload(payload) if masked else payload
        expected = payload_view(payload)
        got = page.evaluate("(p) => window.ProviderConsole.eventRows.payloadView(p)", payload)
        assert got == {"changes": [list(row) for row in expected["changes"]], "details": [list(row) for row in expected["details"]]}, payload


def test_a_live_row_is_text_only(page):
    hostile = '<img src=x onerror="window.pwned=1">'
    html = page.evaluate(
        """(hostile) => {
          const row = window.ProviderConsole.eventRows.buildRow({
            id: 7, event: "provider.updated", provider_id: "p1", actor: hostile, summary: hostile, masked: false,
            created_at: "2026-11-29T08:40:31.123456Z", request_id: "r1",
            payload: {changes: {name: {before: hostile, after: "x"}}},
          }, "/providers/__id__/");
          document.body.appendChild(row);
          return row.outerHTML;
        }""",
        hostile,
    )
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("window.pwned") is None
    assert "&lt;img" in html and 'data-event-id="7"' in html and 'href="/providers/p1/"' in html
    assert "2026-11-29 08:40:31" in html
