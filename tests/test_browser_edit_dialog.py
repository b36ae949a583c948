"""Editing and creating from the list page in a dialog (issue: the console, §3): the form,
the chain preview beside it, inline errors and conflicts stay in the dialog; a save closes it,
shows a toast and re-renders the chain and the card in place, without a reload."""

from __future__ import annotations

import time
from http import HTTPStatus

import pytest

from tests.browser import browser_page, chromium_available, launched_browser
from tests.site_process import configured_site
from tests.test_browser import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    # One Chromium for the module, a context of its own per test: the site is a child process,
    # so nothing in this process touches Django while Playwright's event loop is started.
    with launched_browser() as browser:
        yield browser

ADMIN_PASSWORD = "pw-alice-" + "x" * 8
VIEWER_PASSWORD = "pw-victor-" + "x" * 8


@pytest.fixture(scope="module")
def site():
    if not chromium_available():
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    with configured_site() as site:
        site.api = site.api_session(site.operators_with_token({"alice": ("admin", ADMIN_PASSWORD), "victor": ("viewer", VIEWER_PASSWORD)}, token_for="alice"))
        for provider_id, name, priority in (("openai-prod", "OpenAI production", 10), ("azure-east", "Azure East", 20)):
            created = site.api.post(site.url + "/api/providers", json={
                "id": provider_id, "name": provider_id, "display_name": name, "kind": "openai_compatible",
                "secret_policy": "none", "endpoint": f"https://{provider_id}.example.test/v1", "default_model": "m",
                "priority": priority,
            }, timeout=10)
            assert created.status_code == HTTPStatus.CREATED, created.text
        yield site


def stored(site, provider_id: str) -> dict:
    response = site.api.get(f"{site.url}/api/providers/{provider_id}", timeout=10)
    return response.json() if response.status_code == HTTPStatus.OK else {}


def chain_order(page) -> list[str]:
    return page.eval_on_selector_all(".chain-nodes .node", "nodes => nodes.map(n => n.dataset.provider)")


def test_an_admin_edits_a_card_in_the_dialog_and_the_list_updates_in_place(site, browser):
    for provider_id, priority in (("openai-prod", 10), ("azure-east", 20)):
        assert site.api.patch(f"{site.url}/api/providers/{provider_id}", json={"priority": priority}, timeout=10).ok
    with browser_page(browser=browser) as page:
        sign_in(page, site.url, "alice", ADMIN_PASSWORD)
        page.wait_for_selector("[data-testid=routing-chain]")
        page.evaluate("window.__marker = 1")
        assert chain_order(page) == ["openai-prod", "azure-east"]

        page.click("[data-testid=edit-azure-east]")
        dialog = page.locator("dialog.edit-dialog")
        dialog.locator("#id_priority").wait_for()
        assert "Azure East" in dialog.locator("h2").first.inner_text()
        assert page.url.rstrip("/") == site.url  # no navigation

        # A bad value: the error is inline, in the dialog, and nothing is saved.
        dialog.locator("#id_priority").fill("-3")
        dialog.locator("[data-testid=save]").click()
        dialog.locator("[data-testid=error-priority]").wait_for()
        assert stored(site, "azure-east")["priority"] == 20

        # The preview beside the form shows the chain as it would be.
        dialog.locator("#id_priority").fill("5")
        page.wait_for_function(
            "() => { const n = document.querySelector('dialog.edit-dialog #chain-preview .node');"
            " return n && n.textContent.includes('Azure East'); }"
        )
        started = time.monotonic()
        dialog.locator("[data-testid=save]").click()
        page.wait_for_function("() => !document.querySelector('dialog.edit-dialog').open")
        page.wait_for_function("() => document.querySelector('.chain-nodes .node').dataset.provider === 'azure-east'")
        elapsed = time.monotonic() - started
        print(f"save in the dialog to the chain re-rendered: {elapsed * 1000:.0f} ms")
        assert elapsed < 1.0
        assert "priority 5" in page.inner_text("article[data-provider=azure-east] .routing")
        assert "Saved" in page.inner_text(".toasts")
        assert page.evaluate("window.__marker") == 1  # the page was not reloaded
        assert stored(site, "azure-east")["priority"] == 5


def test_a_conflict_shows_both_values_in_the_dialog(site, browser):
    with browser_page(browser=browser) as page:
        sign_in(page, site.url, "alice", ADMIN_PASSWORD)
        page.click("[data-testid=edit-openai-prod]")
        dialog = page.locator("dialog.edit-dialog")
        dialog.locator("#id_priority").wait_for()
        # Someone else saves first.
        assert site.api.patch(f"{site.url}/api/providers/openai-prod", json={"priority": 33}, timeout=10).ok
        dialog.locator("#id_priority").fill("44")
        dialog.locator("[data-testid=save]").click()
        dialog.locator("[data-testid=conflict]").wait_for()
        row = dialog.locator("[data-testid=conflict] tr[data-field=priority]").inner_text()
        assert "33" in row and "44" in row
        assert dialog.evaluate("d => d.open")
        assert stored(site, "openai-prod")["priority"] == 33


def test_new_provider_in_the_dialog_adds_its_card(site, browser):
    with browser_page(browser=browser) as page:
        sign_in(page, site.url, "alice", ADMIN_PASSWORD)
        page.evaluate("window.__marker = 1")
        page.click("[data-testid=new-provider]")
        dialog = page.locator("dialog.edit-dialog")
        dialog.locator("#id_id").wait_for()
        dialog.locator("#id_kind").select_option("ollama")
        assert dialog.locator("#id_secret_policy").input_value() == "none"  # the kind's default
        for field, value in {"id": "ollama-lab", "name": "ollama-lab", "display_name": "Ollama lab",
                             "endpoint": "http://127.0.0.1:11434", "default_model": "llama3.2", "priority": "30"}.items():
            dialog.locator(f"#id_{field}").fill(value)
        dialog.locator("[data-testid=save]").click()
        page.wait_for_selector("article[data-provider=ollama-lab]")
        assert not dialog.evaluate("d => d.open")
        assert "Created" in page.inner_text(".toasts")
        assert page.evaluate("window.__marker") == 1
        page.keyboard.press("Escape")


def test_a_viewer_opens_the_settings_read_only(site, browser):
    with browser_page(browser=browser) as page:
        sign_in(page, site.url, "victor", VIEWER_PASSWORD)
        page.click("[data-testid=edit-openai-prod]")
        dialog = page.locator("dialog.edit-dialog")
        dialog.locator("[data-testid=form-controls]").wait_for()
        assert dialog.locator("[data-testid=save]").is_disabled()
        assert dialog.locator("[data-testid=save]").get_attribute("title") == "Viewers cannot change providers"
        page.keyboard.press("Escape")
        assert not dialog.evaluate("d => d.open")
