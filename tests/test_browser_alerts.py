"""The alert pages in a real browser: an admin creates a webhook channel pointed at a real
receiver, sets its secret, sends a test alert, and sees it go from pending to sent in the
page's history without a reload, while a deliverer runs beside the site (never inside a web
request). The receiver checks the signature; no page has a CSP violation or a console error."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import OperationalError, connection

from alerts.delivery import deliver_round
from alerts.models import AlertChannel, AlertDelivery
from alerts.tests.receiver import Receiver
from audit.models import AuditEvent
from tests.browser import browser_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SECRET = "browser-webhook-secret-5d1e"
# Installed before any page script: every CSP violation of the page is kept for the test.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Deliverer:
    """`deliver_round()` every 0.3 s in a thread of the test, on the live server's database, as
    `manage.py deliver_alerts` would run beside the site."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.sent = 0
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    self.sent += deliver_round("browser-test").sent
                except OperationalError as error:  # SQLite's lock while the site writes: next round
                    self.errors.append(str(error))
                self.stop.wait(0.3)
        finally:
            connection.close()

    def __enter__(self) -> Deliverer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)


def test_admin_creates_a_webhook_channel_sets_its_secret_and_sees_a_test_alert_delivered(live_server, admin_user):
    with Receiver(secret=SECRET) as receiver, browser_page() as page:
        problems: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        # The list page's events websocket is not served by this WSGI test server.
        page.on(
            "console",
            lambda m: m.type == "error" and "/ws/events/" not in m.text and problems.append(f"console: {m.text}"),
        )
        page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))

        def violations() -> list[str]:
            return page.evaluate("window.__cspViolations || []")

        sign_in(page, live_server.url)
        page.click("nav >> text=Alerts")
        page.wait_for_selector("[data-testid=no-channels]")
        assert page.get_attribute("nav a[href='/alerts/']", "aria-current") == "page"
        problems += violations()

        page.click("[data-testid=new-channel]")
        page.wait_for_selector("[data-testid=channel-form]")
        assert page.is_visible("#id_url") and not page.is_visible("#id_email_to")  # a webhook by default
        page.select_option("#id_kind", "email")
        assert page.is_visible("#id_email_to") and not page.is_visible("#id_url")
        page.select_option("#id_kind", "webhook")
        page.fill("#id_id", "ops-hook")
        page.fill("#id_name", "Ops hook")
        page.fill("#id_url", "ftp://nowhere")
        before = len(problems)
        page.click("[data-testid=save]")
        page.wait_for_selector("[data-testid=error-url]")  # the inline error, nothing saved
        assert "Must be an http:// or https:// URL with a host." in page.inner_text("[data-testid=error-url]")
        assert not AlertChannel.objects.exists()
        # The form's answer is a 400 (bad input), which Chromium reports on its console; nothing else.
        assert problems[before:] == [
            "console: Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
        del problems[before:]
        problems += violations()
        page.fill("#id_url", receiver.url)
        page.click("[data-testid=save]")
        page.wait_for_selector("[data-testid=secret-panel]")
        assert page.url == f"{live_server.url}/alerts/ops-hook/"
        assert page.is_visible("[data-testid=secret-panel] [data-testid=no-secret-warning]")

        # Generate fills a random value, shown once; the receiver's secret is typed instead.
        page.click("[data-testid=generate-secret]")
        generated = page.input_value("[data-testid=secret-value]")
        assert len(generated) == 64 and page.get_attribute("[data-testid=secret-value]", "type") == "text"
        page.fill("[data-testid=secret-value]", SECRET)
        page.click("[data-testid=secret-submit]")
        page.wait_for_selector("text=Webhook secret set for Ops hook")
        assert page.inner_text("[data-testid=secret-present]").startswith("present")
        assert page.input_value("[data-testid=secret-value]") == ""  # never rendered back
        assert SECRET not in page.content()
        problems += violations()

        page.click("[data-testid=send-test-ops-hook]")
        page.wait_for_selector("text=the deliverer sends it within a few seconds")
        delivery = AlertDelivery.objects.get()
        row = f"[data-testid=delivery-{delivery.pk}]"
        assert page.get_attribute(row, "data-status") == "pending"
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads

        with Deliverer() as deliverer:
            page.wait_for_selector(f"{row}[data-status=sent]", timeout=20_000)
        assert page.evaluate("window.__sameDocument === true")
        assert deliverer.sent == 1
        assert "HTTP 200" in page.inner_text(f"{row} [data-testid=attempt]")
        problems += violations()

        accepted = receiver.accepted()
        assert len(accepted) == 1 and all(r.verdict is None for r in receiver.received)
        assert accepted[0].json["alert"] == "alert.test"
        assert accepted[0].json["delivery_id"] == delivery.pk
        assert SECRET not in accepted[0].body.decode()

        page.click("nav >> text=Alerts")
        page.wait_for_selector(f"[data-testid=delivery-history] {row}[data-status=sent]")
        assert "present" in page.inner_text("[data-testid=secret-ops-hook]")
        problems += violations()

    assert AuditEvent.objects.filter(event="alert_channel.secret_updated", actor_name="alice").count() == 1
    assert problems == []
