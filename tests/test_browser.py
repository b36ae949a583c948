"""The pages in a real browser: sign in, see the providers and the chain, sign out."""

from __future__ import annotations

import os

import pytest

from tests.browser import browser_page, chromium_available

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
# itself (fixtures) happen before it starts, so this only silences Django's guard.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _needs_chromium():
    if not chromium_available():
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")


def sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_viewer_signs_in_and_sees_cards_chain_and_role(live_server, viewer_user, provider_factory):
    provider_factory(id="openai-prod", display_name="OpenAI production", priority=10, secret_policy="none")
    provider_factory(id="azure-east", display_name="Azure East", priority=20, secret_policy="none")
    with browser_page() as page:
        sign_in(page, live_server.url, "victor", "pw-victor")
        page.wait_for_selector("[data-testid=routing-chain]")
        assert page.inner_text("[data-testid=role-badge]") == "viewer"
        nodes = page.locator(".chain-nodes .node").all_inner_texts()
        assert nodes[0].startswith("OpenAI production") and nodes[1].startswith("Azure East")
        assert "Serving: openai-prod" in page.inner_text("[data-testid=active-reason]")
        assert page.locator("article.card").count() == 2
        page.click(".chain-nodes .node >> nth=1 >> a")
        page.wait_for_url("**/providers/azure-east/")
        assert "Azure East" in page.inner_text("h1")
        page.click("text=Sign out")
        page.wait_for_url("**/login/")


def test_wrong_password_stays_on_login_with_an_error(live_server, viewer_user):
    with browser_page() as page:
        sign_in(page, live_server.url, "victor", "wrong")
        assert page.locator("[role=alert]").inner_text().startswith("Your username and password")
