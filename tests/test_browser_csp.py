"""Every kind of page under the Content Security Policy in Chromium, on the real site (daphne,
DEBUG off, static files by WhiteNoise): no `securitypolicyviolation` event, no console error, the
header on every document, and the events websocket connected under `connect-src 'self'`."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from tests.browser import browser_page
from tests.site_process import configured_site
from tests.test_browser import sign_in

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "pw-alice-" + "x" * 8

# Installed before any page script: every violation of the page is kept for the test to read.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
});
"""


@pytest.fixture(scope="module")
def site():
    with configured_site() as site:
        site.api = site.api_session(site.operators_with_token({"alice": ("admin", ADMIN_PASSWORD)}, token_for="alice"))
        for provider_id, policy in (("csp-open", "none"), ("csp-keyed", "required")):
            created = site.api.post(site.url + "/api/providers", json={
                "id": provider_id, "name": provider_id, "kind": "openai_compatible", "secret_policy": policy,
                "endpoint": "http://127.0.0.1:9/v1", "default_model": "m",
            }, timeout=10)
            assert created.status_code == HTTPStatus.CREATED, created.text
        # A webhook alert channel with a test alert queued: the alert pages draw a history row.
        created = site.api.post(site.url + "/api/alert-channels", json={
            "id": "csp-hook", "name": "csp-hook", "kind": "webhook", "url": "http://127.0.0.1:9/hook",
            "events": ["provider.unreachable"],
        }, timeout=10)
        assert created.status_code == HTTPStatus.CREATED, created.text
        assert site.api.post(site.url + "/api/alert-channels/csp-hook/test", json={}, timeout=10).status_code == (
            HTTPStatus.ACCEPTED)
        # A check in the history, so the provider page draws its chart and its history table.
        assert site.api.post(site.url + "/api/providers/csp-open/test", json={}, timeout=30).status_code == HTTPStatus.OK
        yield site


class Watched:
    """A page whose CSP violations, console errors and uncaught exceptions are collected."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda message: message.type == "error" and self.errors.append(f"console: {message.text}"))
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def visit(self, url: str, ready: str = "body"):
        response = self.page.goto(url)
        assert response is not None and response.ok, (url, response and response.status)
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, (url, policy)
        self.page.wait_for_selector(ready)
        self.page.wait_for_load_state("networkidle")
        return response

    def problems(self) -> list[str]:
        # Violations are reported per document; read the current one's before navigating on.
        return self.errors + self.page.evaluate("window.__cspViolations || []")


def test_every_page_type_runs_under_the_policy_without_a_violation(site):
    seen: dict[str, list[str]] = {}
    with browser_page() as page:
        watched = Watched(page)

        def check(name: str, url: str, ready: str = "body", then=None):
            watched.errors.clear()
            watched.visit(site.url + url, ready)
            if then is not None:
                then(page)
                page.wait_for_load_state("networkidle")
            seen[name] = watched.problems()

        check("login", "/login/", "input[name=username]")
        sign_in(page, site.url, "alice", ADMIN_PASSWORD)
        page.wait_for_selector("[data-testid=routing-chain]")

        def list_with_dialogs(page):
            # The events websocket is open: connect-src 'self' covers ws:// of the same origin.
            page.wait_for_function("() => [...document.querySelectorAll('[data-live-list]')].length > 0")
            page.click("[data-testid=edit-csp-open]")
            page.locator("dialog.edit-dialog #id_priority").wait_for()
            page.keyboard.press("Escape")
            page.click("[data-testid=new-provider]")
            page.locator("dialog.edit-dialog #id_name").wait_for()
            page.keyboard.press("Escape")
            page.click("[data-testid=secret-csp-keyed]")
            page.wait_for_selector("dialog[open] [data-testid=secret-panel]")
            page.keyboard.press("Escape")
            page.click("[data-testid=run-all-checks]")
            page.wait_for_selector("[data-testid=check-summary]", timeout=30_000)

        check("provider list, dialogs, Run all", "/", "[data-testid=routing-chain]", list_with_dialogs)

        def websocket_open(page):
            page.wait_for_function(
                "() => { const s = window.ProviderConsole && window.ProviderConsole.eventsPageStream;"
                " return s && s.socket && s.socket.readyState === 1 }", timeout=10_000)

        check("events", "/events/", "table.events", websocket_open)
        check("provider page", "/providers/csp-open/", "main")
        check("provider form (new)", "/new-provider/", "#id_name")
        check("provider form (edit)", "/providers/csp-open/edit/", "#id_priority")
        check("archived", "/archived/", "main")
        check("secret page", "/providers/csp-keyed/secret/", "[data-testid=secret-panel]")
        def history_polled_and_secret_generated(page):
            # The history region asks for itself again (htmx), and Generate fills the value field.
            with page.expect_response(lambda r: r.url.endswith("/alerts/csp-hook/") and r.request.headers.get("hx-request") == "true"):
                pass
            page.click("[data-testid=generate-secret]")
            assert len(page.input_value("[data-testid=secret-value]")) == 64

        check("alerts", "/alerts/", "[data-testid=delivery-history]")
        check("alert channel", "/alerts/csp-hook/", "[data-testid=secret-panel]", history_polled_and_secret_generated)
        check("alert channel form (new)", "/new-alert-channel/", "#id_kind")
        check("alert channel form (edit)", "/alerts/csp-hook/edit/", "#id_name")
        check("account", "/account/", "main")
        check("admin index", "/admin/", "#content")
        check("admin list", "/admin/providers/provider/", "#changelist")
        check("admin change form", "/admin/providers/provider/csp-open/change/", "#content")
        check("browsable API list", "/api/providers", "#content")
        check("browsable API root", "/api/", "#content")
        check("Swagger", "/api/docs/", ".swagger-ui .info")

    failing = {name: problems for name, problems in seen.items() if problems}
    assert not failing, "\n".join(f"{name}: {problem}" for name, problems in failing.items() for problem in problems)
    assert len(seen) == 19
