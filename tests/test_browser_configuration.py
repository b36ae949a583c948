"""The configuration page in a real browser: an admin downloads the export, pastes it edited,
reads the dry run's diff and chains, and applies it."""

from __future__ import annotations

import os

import pytest
import yaml

from audit.models import AuditEvent
from providers.models import Provider
from tests.browser import browser_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_admin_checks_a_file_and_applies_it(live_server, admin_user, provider_factory):
    for pid, priority in (("first", 10), ("second", 20), ("third", 30)):
        provider_factory(id=pid, priority=priority, kind="ollama", endpoint=f"http://127.0.0.1:1{priority}",
                         default_model="llama3", fallback_models=[])
    with browser_page() as page:
        sign_in(page, live_server.url)
        # No CSP refusal, no script error; but the list page's events websocket, which this
        # WSGI test server does not serve, fails whenever its message arrives.
        errors = []
        page.on("console", lambda message: message.type == "error" and "/ws/events/" not in message.text
                and errors.append(message.text))
        page.click("nav >> text=Configuration")
        page.wait_for_selector("[data-testid=config-form]")
        assert page.get_attribute("nav a[href='/configuration/']", "aria-current") == "page"

        with page.expect_download() as download:
            page.click("[data-testid=download-yaml]")
        document = yaml.safe_load(open(download.value.path(), encoding="utf-8"))
        assert [p["id"] for p in document["providers"]] == ["first", "second", "third"]

        document["providers"][2]["priority"] = 1  # third serves
        del document["providers"][0]  # first is archived with the box ticked
        page.fill("[data-testid=config-text]", yaml.safe_dump(document, sort_keys=False))
        page.check("[data-testid=prune]")
        page.click("[data-testid=preview]")
        page.wait_for_selector("[data-testid=config-result]")
        assert page.get_attribute("[data-testid=config-result]", "data-applied") == "false"
        assert page.get_attribute("[data-testid=change-third]", "data-action") == "update"
        assert page.inner_text("[data-testid=change-third] [data-field=priority]") == "priority: 30 → 1"
        assert page.get_attribute("[data-testid=change-first]", "data-action") == "archive"
        chain = "[data-testid={}] li"
        assert page.locator(chain.format("chain-before")).all_inner_texts() == ["first serving", "second", "third"]
        assert page.locator(chain.format("chain-after")).all_inner_texts() == ["third serving", "second"]
        assert Provider.objects.get(id="third").priority == 30  # a dry run

        page.click("[data-testid=apply]")
        page.wait_for_selector("[data-testid=config-result][data-applied=true]")
        assert page.text_content("[data-testid=config-result] h2") == "Applied: 2 changes"
        assert Provider.objects.get(id="third").priority == 1
        assert Provider.objects.get(id="first").archived_at is not None
        assert AuditEvent.objects.filter(event="provider.archived", provider_id="first", actor_name="alice").exists()
        assert errors == []
