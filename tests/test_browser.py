"""The pages in a real browser: sign in, see the providers and the chain, sign out."""

from __future__ import annotations

import os

import pytest

from tests.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
# itself (fixtures) happen before it starts, so this only silences Django's guard.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


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


@pytest.fixture
def simulator():
    from health.simulator import Route, SimulatorServer

    routes = [
        Route("/ollama", "ollama", ["llama3.2:3b"]),
        Route("/down/v1", "openai_compatible", ["gpt-4o-mini"], failures=("500",)),
    ]
    with SimulatorServer(routes) as server:
        yield server


def save_screenshot(page, name: str) -> None:
    """Screenshots for the docs are rewritten only on request (`make screenshots`)."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=f"docs/screenshots/{name}.png", full_page=True)


def test_admin_tests_a_provider_and_runs_all_checks(live_server, admin_user, provider_factory, simulator):
    provider_factory(id="ollama-local", display_name="Ollama (local)", kind="ollama",
                     endpoint=simulator.url("/ollama"), default_model="llama3.2:3b", fallback_models=[],
                     priority=10, retries=0, timeout_ms=2000)
    provider_factory(id="cloud", display_name="Cloud", endpoint=simulator.url("/down/v1"),
                     secret_policy="none", priority=20, retries=0, timeout_ms=2000)
    with browser_page() as page:
        sign_in(page, live_server.url, "alice", "pw-alice")
        page.wait_for_selector("[data-testid=routing-chain]")
        assert page.inner_text("[data-testid=role-badge]") == "admin"
        assert "never checked" in page.inner_text("article[data-provider=ollama-local]")

        page.click("[data-testid=test-ollama-local]")
        page.wait_for_selector(".toast-success")
        assert page.inner_text(".toast-success").startswith("ollama-local: pass in")
        page.wait_for_function("() => / ms/.test(document.querySelector("
                               "'article[data-provider=ollama-local] .status').innerText)")

        page.click("[data-testid=run-all-checks]")  # runs in the background; the summary is a table
        page.wait_for_selector("[data-testid=check-summary]")
        assert "Checks finished: 2 checked, 1 passed, 1 failed." in page.inner_text("#check-run")
        first = page.inner_text("[data-testid=check-summary] tbody tr:first-child")
        assert "cloud" in first and "server_error" in first
        page.wait_for_function("() => /degraded/.test(document.querySelector('article[data-provider=cloud]').innerText)")
        card = page.inner_text("article[data-provider=cloud]")
        assert "degraded" in card and "server_error" in card
        save_screenshot(page, "providers")

        page.click("article[data-provider=cloud] h3 a")
        page.wait_for_selector("[data-testid=history]")
        rows = page.locator("[data-testid=history] tbody tr").all_inner_texts()
        assert len(rows) == 1 and "server_error" in rows[0]
