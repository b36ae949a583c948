"""Creating, editing and archiving a provider in the console alone, in a real browser."""

from __future__ import annotations

import os

import pytest

from health.simulator import Route, SimulatorServer
from providers.models import Provider
from tests.browser import browser_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def ollama():
    with SimulatorServer([Route("/ollama", "ollama", ["llama3.2:3b", "qwen2.5:7b"])]) as server:
        yield server.url("/ollama")


def save_screenshot(page, name: str) -> None:
    """Rewritten only on request (`UPDATE_SCREENSHOTS=1`, as `make screenshots` sets)."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=f"docs/screenshots/{name}.png", full_page=True)


def test_admin_creates_edits_with_preview_archives_and_undoes(live_server, admin_user, provider_factory, ollama):
    provider_factory(id="cloud", display_name="Cloud", secret_policy="none", priority=20)
    with browser_page() as page:
        sign_in(page, live_server.url)
        # The form's own page (the list opens it in a dialog: tests/test_browser_edit_dialog.py).
        page.goto(f"{live_server.url}/new-provider/")
        page.wait_for_selector("#provider-form")
        # The secret policy follows the kind until the operator picks one.
        assert page.input_value("#id_secret_policy") == "required"
        page.select_option("#id_kind", "ollama")
        assert page.input_value("#id_secret_policy") == "none"

        page.fill("#id_id", "Local Ollama")  # not a valid id
        page.fill("#id_name", "local-ollama")
        page.fill("#id_display_name", "Local Ollama")
        page.fill("#id_endpoint", ollama)
        page.fill("#id_priority", "30")
        page.click("[data-testid=discover-models]")
        page.wait_for_selector("[data-testid=discovered-models]")
        page.click("[data-use-model=default][data-model='llama3.2:3b']")
        page.click("[data-use-model=fallback][data-model='qwen2.5:7b']")
        assert page.input_value("#id_default_model") == "llama3.2:3b"
        assert page.input_value("#id_fallback_models") == "qwen2.5:7b"
        page.click("[data-testid=test-before-save]")
        page.wait_for_selector("[data-testid=probe-result]")
        assert page.inner_text("[data-testid=probe-result]").startswith("pass")

        page.click("[data-testid=save]")
        page.wait_for_selector("[data-testid=error-id]")
        assert "lowercase" in page.inner_text("[data-testid=error-id]")
        assert page.input_value("#id_secret_policy") == "none"  # the rest of the form is kept
        page.fill("#id_id", "local-ollama")
        page.click("[data-testid=save]")
        page.wait_for_url("**/#provider-local-ollama")
        assert "Created Local Ollama." in page.inner_text(".toasts")
        assert page.locator("article#provider-local-ollama").count() == 1

        # Edit priority: the chain as if saved shows beside the form before saving.
        page.goto(f"{live_server.url}/providers/local-ollama/edit/")
        page.wait_for_selector("[data-testid=chain-preview]")
        page.fill("#id_priority", "5")
        page.wait_for_selector("[data-testid=moved-local-ollama]")
        assert "New serving provider: local-ollama" in page.inner_text("[data-testid=new-serving]")
        save_screenshot(page, "edit-with-preview")
        # Nothing saved yet (read through the API with the browser's session: an ORM call in
        # here would open a database connection nobody closes).
        saved = page.request.get(f"{live_server.url}/api/providers/local-ollama", headers={"Accept": "application/json"})
        assert saved.json()["priority"] == 30
        page.click("[data-testid=save]")
        page.wait_for_url("**/#provider-local-ollama")
        assert "Saved Local Ollama" in page.inner_text(".toasts")
        assert "Serving: local-ollama" in page.inner_text("[data-testid=active-reason]")

        # Archive asks first; its toast offers Undo.
        page.goto(f"{live_server.url}/providers/local-ollama/edit/")
        page.click("[data-testid=archive]")
        page.click("[data-testid=confirm-archive]")
        page.wait_for_selector("[data-testid=undo-archive]")
        assert page.locator("article#provider-local-ollama").count() == 0
        page.click("[data-testid=undo-archive]")
        page.wait_for_selector("article#provider-local-ollama")
        assert "Restored Local Ollama." in page.inner_text(".toasts")
    # The database is read once the browser is gone.
    provider = Provider.objects.get(pk="local-ollama")
    assert provider.archived_at is None and provider.priority == 5 and provider.secret_policy == "none"


def test_a_stale_save_shows_theirs_and_yours_in_place(live_server, admin_user, provider_factory):
    provider_factory(id="cloud", display_name="Cloud", secret_policy="none", priority=20)
    with browser_page() as page:
        sign_in(page, live_server.url)
        page.goto(f"{live_server.url}/providers/cloud/edit/")
        other = page.context.new_page()  # another tab saves first
        other.goto(f"{live_server.url}/providers/cloud/edit/")
        other.fill("#id_priority", "40")
        other.click("[data-testid=save]")
        other.wait_for_url("**/#provider-cloud")

        page.fill("#id_priority", "60")
        page.click("[data-testid=save]")
        page.wait_for_selector("[data-testid=conflict]")  # the 412 answer is swapped in, no reload
        row = page.locator("[data-testid=conflict] tr[data-field=priority]")
        assert row.locator(".theirs").inner_text() == "40" and row.locator(".yours").inner_text() == "60"
        assert page.input_value("#id_priority") == "60"
        page.click("[data-testid=reload]")
        page.wait_for_selector("#provider-form")
        assert page.input_value("#id_priority") == "40"


def test_the_forms_fit_a_390_px_phone(live_server, admin_user, provider_factory):
    from tests.test_browser_chrome import assert_buttons_are_tall_enough, assert_fits_the_phone

    provider_factory(id="cloud", display_name="Cloud", secret_policy="none", priority=20)
    with browser_page(viewport=(390, 844)) as page:
        sign_in(page, live_server.url)
        for path in ("/new-provider/", "/providers/cloud/edit/", "/providers/cloud/archive/", "/archived/"):
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            assert_fits_the_phone(page, path)
            assert_buttons_are_tall_enough(page, path)
