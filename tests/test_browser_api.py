"""The browsable API in a real browser: an integrator signs in, creates a provider through the
`/api/providers` HTML form and sets its secret through `/api/providers/<id>/secret`'s form,
and no form of the secret is ever in a page the server sends."""

from __future__ import annotations

import base64
import html
import json
import os
from urllib.parse import quote, quote_plus

import pytest

from providers.models import Provider
from secrets_vault import api as vault
from tests.browser import browser_page
from tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CANARY = "sk-canary-Br0wser+API/7d1e=="


def forms_of(secret: str) -> set[str]:
    return {
        secret, html.escape(secret), quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode(), base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
        secret.encode().hex(),
    }


def assert_no_secret(label: str, *sources: str) -> None:
    for source in sources:
        found = [form for form in forms_of(CANARY) if form in source]
        assert not found, f"{label}: the secret is in the page ({len(found)} forms)"


def secret_present(page, base_url: str) -> bool:
    """What the API says, read with the browser's own session."""
    answer = page.request.get(f"{base_url}/api/providers/from-browser", headers={"Accept": "application/json"})
    assert answer.status == 200
    assert_no_secret("the provider as JSON", answer.text())
    return answer.json()["secret_present"]


def submit_html_form(page, action: str):
    """Click the HTML form's POST button (not the raw-data form's) and return the server's answer."""
    form = page.locator(f'form[action="{action}"][enctype="multipart/form-data"]')
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(action)) as answer:
        form.locator("button.btn-primary").click()
    page.wait_for_load_state()
    return answer.value


def test_integrator_creates_a_provider_and_sets_its_secret_through_the_html_forms(live_server, admin_user):
    with browser_page() as page:
        sign_in(page, live_server.url, "alice", "pw-alice")
        page.wait_for_url(f"{live_server.url}/")

        page.goto(f"{live_server.url}/api/providers")
        form = 'form[action="/api/providers"][enctype="multipart/form-data"]'
        assert page.is_checked(f"{form} input[name=enabled]")
        page.fill(f"{form} input[name=id]", "from-browser")
        page.fill(f"{form} input[name=name]", "from-browser")
        page.select_option(f"{form} select[name=kind]", "openai_compatible")
        page.fill(f"{form} input[name=endpoint]", "http://127.0.0.1:9/v1")
        page.fill(f"{form} input[name=default_model]", "gpt-4o-mini")
        created = submit_html_form(page, "/api/providers")
        assert created.status == 201, created.text()[-2000:]
        assert "HTTP 201 Created" in page.content()

        secret_url = "/api/providers/from-browser/secret"
        page.goto(f"{live_server.url}{secret_url}")  # GET answers 405 with the POST form
        secret_form = f'form[action="{secret_url}"][enctype="multipart/form-data"]'
        assert page.get_attribute(f"{secret_form} input[name=value]", "type") == "password"

        # A value with whitespace around it is refused; the page does not carry it back.
        page.select_option(f"{secret_form} select[name=action]", "set")
        page.fill(f"{secret_form} input[name=value]", f"  {CANARY}  ")
        refused = submit_html_form(page, secret_url)
        assert refused.status == 400
        assert "Must not start or end with whitespace." in page.content()
        assert page.input_value(f"{secret_form} input[name=value]") == ""
        assert_no_secret("after the failed attempt", refused.text(), page.content())
        assert secret_present(page, live_server.url) is False

        page.select_option(f"{secret_form} select[name=action]", "set")
        page.fill(f"{secret_form} input[name=value]", CANARY)
        page.fill(f"{secret_form} input[name=secret_id_hint]", "prod-key")
        stored = submit_html_form(page, secret_url)
        assert stored.status == 200, stored.text()[-2000:]
        assert '"secret_present": true' in html.unescape(stored.text())
        assert page.input_value(f"{secret_form} input[name=value]") == ""
        assert_no_secret("after the secret was set", stored.text(), page.content())
        assert secret_present(page, live_server.url) is True

        detail = page.goto(f"{live_server.url}/api/providers/from-browser")
        assert detail.status == 200 and '"secret_present": true' in html.unescape(detail.text())
        assert_no_secret("the provider's page", detail.text(), page.content())

    # The database is read once the browser is gone: Playwright's sync API runs the block above
    # in a context of its own, where an ORM call would open a connection nobody closes.
    provider = Provider.objects.get(pk="from-browser")
    assert (provider.enabled, provider.secret_policy, provider.fallback_models) == (True, "required", [])
    assert vault.get_credential(provider) == CANARY
