"""Spec §8 in the browser, as an admin in the console alone (the only thing done outside it is
creating the users): create a provider pointed at a local OpenAI-compatible server, set its
secret in the panel, enable it and edit its routing fields without touching the secret (its
version stays), Test it from its card and see the pass and the latency there, rotate the secret
(the value in no page source, DOM, storage, URL or websocket frame; the next check sends the
new one), read the routing chain and the serving provider with its reason on the same screen
as the cards, and find every step in the audit log."""

from __future__ import annotations

import hashlib
import re
import secrets
import time

import pytest

from health.tests.servers import LocalServer, ModelsHandler
from tests.browser import browser_page
from tests.test_browser import sign_in
from tests.test_browser_secret_panel import (
    ADMIN_PASSWORD,
    Canary,
    Watch,
    act,
    console_site,
    open_panel,
)

pytestmark = pytest.mark.browser

PROVIDER = "openai-prod"
CARD = f"article#provider-{PROVIDER}"


def digest(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def panel_version(page) -> str:
    open_panel(page, PROVIDER)
    version = page.inner_text("dialog [data-testid=secret-version]").strip()
    page.click("dialog [data-testid=secret-dialog-close]")
    return version


def edit(page, **fields: str) -> None:
    """The card's Edit, in a dialog on the list or on a page of its own, and Save."""
    page.click(f"[data-testid=edit-{PROVIDER}]")
    page.wait_for_selector("#id_priority")
    for name, value in fields.items():
        selector = f"#id_{name}"
        if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click("[data-testid=save]")
    # The card's routing line, e.g. "primary #1 · priority 5 · enabled", once the save has landed.
    page.wait_for_function(
        "([sel, priority]) => { const r = document.querySelector(sel + ' .routing');"
        " return r && r.innerText.includes(`priority ${priority} ·`) }",
        arg=[CARD, fields["priority"]], timeout=10_000,
    )


def test_the_operator_scenario_in_the_console_alone():
    canary = Canary("sk-canary-" + secrets.token_hex(12))
    rotated = Canary("sk-rotated-" + secrets.token_hex(12))
    with LocalServer(ModelsHandler) as upstream, console_site() as site, browser_page() as page:
        watch = Watch(page)
        sign_in(page, site.url, "alice", ADMIN_PASSWORD)
        page.wait_for_selector("[data-testid=new-provider]")

        # 1. Create it in the console's form, out of the chain for now.
        page.click("[data-testid=new-provider]")
        page.wait_for_selector("#provider-form")
        page.fill("#id_id", PROVIDER)
        page.fill("#id_name", PROVIDER)
        page.fill("#id_display_name", "OpenAI production")
        page.select_option("#id_kind", "openai_compatible")
        page.fill("#id_endpoint", f"http://127.0.0.1:{upstream.port}/v1")
        page.fill("#id_default_model", "gpt-4o-mini")
        page.select_option("#id_status", "disabled")
        page.fill("#id_priority", "50")
        assert page.input_value("#id_secret_policy") == "required"
        page.click("[data-testid=save]")
        page.wait_for_selector(CARD)
        assert "Created OpenAI production." in page.inner_text("main")
        assert "secret missing" in page.inner_text(f"{CARD} .security")

        # 2. Set its secret in the panel.
        page.evaluate("window.__same_page = true")
        open_panel(page, PROVIDER)
        page.fill("dialog [name=value]", canary)
        page.fill("dialog [name=secret_id_hint]", "prod-key-feb")
        act(page, "dialog [data-testid=secret-submit]", f"Secret set for {PROVIDER} (version 1).", PROVIDER, "secret present")
        assert page.evaluate("window.__same_page") is True
        assert panel_version(page) == "1"

        # 3. Enable it and move it in the chain: routing fields only; the secret's version stays.
        edit(page, status="active", priority="5")
        routing = page.inner_text(f"{CARD} .routing")
        assert "priority 5 · enabled" in routing, routing
        assert panel_version(page) == "1"
        assert len(upstream.seen) == 0  # nothing was probed yet

        # 4. Test it from its card: pass and the latency, on the card, in place.
        page.evaluate("window.__same_page = true")
        began = time.monotonic()
        page.click(f"[data-testid=test-{PROVIDER}]")
        page.wait_for_function(
            "sel => { const s = document.querySelector(sel + ' .status'); return s && / ms\\b/.test(s.innerText) }",
            arg=CARD, timeout=15_000,
        )
        print(f"Test: latency on the card {time.monotonic() - began:.3f} s after the click")
        page.wait_for_selector("text=/pass in \\d+ ms/", timeout=15_000)
        said = re.search(r"pass in (\d+) ms", page.inner_text("main")).group(1)
        status = page.inner_text(f"{CARD} .status")
        assert "never checked" not in status and "active" in status
        assert f"{said} ms" in status, (said, status)  # the card shows the latency the toast announced
        assert page.locator(f"{CARD} .status .error").count() == 0
        assert page.evaluate("window.__same_page") is True, "the Test reloaded the page"
        assert len(upstream.seen) == 1 and digest(upstream.seen[-1].authorization) == digest(f"Bearer {canary}")

        # 5. Rotate the secret; the next Test sends the new value.
        open_panel(page, PROVIDER)
        page.fill("dialog [name=value]", rotated)
        act(page, "dialog [data-testid=secret-submit]", f"Secret rotated for {PROVIDER} (version 2).", PROVIDER, "v2")
        page.click(f"[data-testid=test-{PROVIDER}]")
        deadline = time.monotonic() + 15
        while len(upstream.seen) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert digest(upstream.seen[-1].authorization) == digest(f"Bearer {rotated}")
        watch.assert_never_saw(page, canary, rotated)
        assert canary not in site.log_text() and rotated not in site.log_text()

        # 6. The chain and the serving provider with its reason, on the screen with the cards.
        page.wait_for_selector(f"[data-testid=routing-chain] .node[data-provider={PROVIDER}]")
        assert page.locator(CARD).is_visible()
        reason = page.inner_text("[data-testid=active-reason]")
        assert f"Serving: {PROVIDER}" in reason and len(reason) > len(f"Serving: {PROVIDER} — ")
        node = page.inner_text(f"[data-testid=routing-chain] .node[data-provider={PROVIDER}]")
        assert "#1 serving" in node
        watch.assert_never_saw(page, canary, rotated)

        # 7. Every step is in the audit log, with who and what, and no value.
        page.goto(site.url + f"/events/?provider_id={PROVIDER}")
        page.wait_for_selector("table.events > tbody > tr")
        log = page.inner_text("table.events")
        for summary in (f"alice created provider {PROVIDER}", f"alice set the api key of {PROVIDER} (version 1)",
                        f"alice rotated the api key of {PROVIDER} (version 2)"):
            assert summary in log, summary
        assert "provider.updated" in log and "provider.tested" in log
        watch.assert_never_saw(page, canary, rotated)
