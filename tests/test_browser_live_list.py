"""The live provider list in a real browser against the real site (daphne, websockets), with two
browser contexts at once: an admin changes providers through the API with a token while a
viewer's and the admin's list pages are open; both pages show the new chain order, the new card
content and the new event row within one second of each change, with no reload; the viewer
reaches no editing or secret control; a change made while the page's websocket was down shows
up once it reconnects.

With DATABASE_URL (PostgreSQL) and REDIS_URL set, the site runs on a scratch PostgreSQL
database and the Redis channel layer; otherwise on SQLite and the in-memory layer.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from contextlib import ExitStack
from http import HTTPStatus

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.site_process import postgres_scratch_database, site_process
from tests.test_browser import save_screenshot, sign_in

pytestmark = pytest.mark.browser

VIEWER_PASSWORD = "pw-victor-" + "x" * 8
ADMIN_PASSWORD = "pw-alice-" + "x" * 8
LOCKED = "Viewers cannot change providers"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site():
    with ExitStack() as stack:
        database_url = None
        base_url = os.environ.get("DATABASE_URL", "")
        if base_url.startswith(("postgres://", "postgresql://")):
            database_url = stack.enter_context(postgres_scratch_database(base_url, migrated=True))
        site = stack.enter_context(
            site_process(database_url=database_url, redis_url=os.environ.get("REDIS_URL") or None)
        )
        site.api = site.api_session(site.operators_with_token({"alice": ("admin", ADMIN_PASSWORD), "victor": ("viewer", VIEWER_PASSWORD)}, token_for="alice"))
        endpoint = f"http://127.0.0.1:{_closed_port()}/v1"
        for provider_id, priority in (("p-alpha", 10), ("p-beta", 20), ("p-gamma", 30)):
            created = site.api.post(
                site.url + "/api/providers",
                json={"id": provider_id, "name": provider_id, "kind": "openai_compatible", "secret_policy": "optional",
                      "endpoint": endpoint, "default_model": "m", "priority": priority},
                timeout=10,
            )
            assert created.status_code == HTTPStatus.CREATED, created.text
        yield site


def patch(site, provider_id: str, body: dict) -> None:
    response = site.api.patch(f"{site.url}/api/providers/{provider_id}", json=body, timeout=10)
    assert response.status_code == HTTPStatus.OK, response.text


def newest_event_id(page) -> int:
    return page.evaluate("() => Number(document.querySelector('table[data-recent-events] > tbody > tr')?.dataset.eventId || 0)")


def chain_ids(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('.chain-nodes > .node')].map(n => n.dataset.provider)")


def card_ids(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('[data-live-cards] > article.card')].map(c => c.dataset.provider)")


def shown(page, predicate_js: str, timeout_s: float = 5.0) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(predicate_js, timeout=timeout_s * 1000, polling="raf")
    except PlaywrightTimeout:
        state = page.evaluate("""() => ({chain: [...document.querySelectorAll('.chain-nodes > .node')].map(n => n.dataset.provider),
            cards: [...document.querySelectorAll('[data-live-cards] > article.card')].map(c => c.innerText),
            row: document.querySelector('table[data-recent-events] > tbody > tr')?.innerText})""")
        raise AssertionError(f"the page did not show the change within {timeout_s} s: {state}") from None


def stream_connected(page) -> None:
    page.wait_for_function("() => { const s = window.ProviderConsole && window.ProviderConsole.listStream; "
                           "return s && s.socket && s.socket.readyState === 1 }", timeout=10000)


def after_change(site, pages: dict, provider_id: str, body: dict, expected_chain: list[str], card_text: str) -> dict:
    """Make the change and measure, on each open page, the time from the moment of the change
    (just before the API call) until the chain, the card and the event row all show it. Each page
    watches itself (every animation frame) and notes the wall-clock time it first showed all
    three, so one page's wait does not count in another's figure."""
    card = json.dumps(f'[data-live-cards] > article.card[data-provider="{provider_id}"]')
    chain = json.dumps(json.dumps(expected_chain, separators=(",", ":")))
    for page in pages.values():
        before = newest_event_id(page)
        page.evaluate(f"""() => {{
            window.__shownAt = null;
            const check = () => {{
                const chain = [...document.querySelectorAll('.chain-nodes > .node')].map(n => n.dataset.provider);
                const card = document.querySelector({card});
                const row = document.querySelector('table[data-recent-events] > tbody > tr');
                if (JSON.stringify(chain) === {chain} && card && card.innerText.includes({card_text!r})
                    && row && Number(row.dataset.eventId) > {before} && row.innerText.includes({provider_id!r})) {{
                    window.__shownAt = Date.now();
                }} else requestAnimationFrame(check);
            }};
            requestAnimationFrame(check);
        }}""")
    began = time.time()
    patch(site, provider_id, body)
    answered = time.time() - began
    delays = {}
    for name, page in pages.items():
        shown(page, "() => window.__shownAt !== null")
        delays[name] = round(page.evaluate("window.__shownAt") / 1000 - began, 3)
    print(f"  {provider_id} {body}: the API answered after {answered:.3f} s; shown after {delays}")
    for name, page in pages.items():
        log = page.evaluate("window.ProviderConsole.listStats.log")
        steps = [f"{what} {at / 1000 - began:.3f}" for what, at in log if at / 1000 >= began]
        print(f"    {name}: {', '.join(steps)}")
    return delays


def viewer_controls(page) -> list[dict]:
    """Every editing, testing or secret control on the viewer's page at this moment (the filter
    form, the toasts' close buttons and the event rows' details are not such controls)."""
    return page.evaluate("""() => [...document.querySelectorAll('main button, main input, main select, main textarea, main a.button')]
        .filter(e => !e.closest('.list-filters') && !e.closest('.toasts') && !e.closest('[data-recent-events]'))
        .filter(e => !(e.tagName === 'INPUT' && e.type === 'hidden'))
        .filter(e => !['all-events', 'archived-filter'].includes(e.dataset.testid))
        .map(e => ({tag: e.tagName, text: (e.innerText || e.value || '').trim(), testid: e.dataset.testid || '',
                    disabled: !!e.disabled, title: e.title, href: e.getAttribute('href') || '',
                    visible: e.getClientRects().length > 0}))""")


def test_two_contexts_a_viewer_and_an_admin_see_changes_live(site):
    from playwright.sync_api import sync_playwright

    canary = "canary-" + secrets.token_hex(6)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            viewer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            frames = []
            viewer.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
            sign_in(viewer, site.url, "victor", VIEWER_PASSWORD)
            sign_in(admin, site.url, "alice", ADMIN_PASSWORD)
            pages = {"viewer": viewer, "admin": admin}
            for page in pages.values():
                page.wait_for_selector("[data-testid=routing-chain]")
                stream_connected(page)
                page.evaluate("window.__marker = 1")
            assert viewer.inner_text("[data-testid=role-badge]") == "viewer"
            assert chain_ids(viewer) == ["p-alpha", "p-beta", "p-gamma"]
            time.sleep(0.2)  # the sockets' group subscriptions settle

            # Keyboard focus on a card's control and a scrolled page survive the swaps.
            viewer.focus("[data-testid=edit-p-alpha]")
            viewer.evaluate("window.scrollTo(0, 120)")
            scrolled = viewer.evaluate("window.scrollY")

            # 1. Priority: p-gamma goes first (metadata carries a canary a viewer must never get).
            delays_priority = after_change(site, pages, "p-gamma", {"priority": 5, "metadata": {"note": canary}},
                                           ["p-gamma", "p-alpha", "p-beta"], "priority 5")
            # 2. Status: p-alpha goes to standby, after the active tier.
            delays_status = after_change(site, pages, "p-alpha", {"status": "standby"},
                                         ["p-gamma", "p-beta", "p-alpha"], "standby")
            print(f"event-to-screen delays (s): priority {delays_priority}, status {delays_status}")
            for delays in (delays_priority, delays_status):
                assert max(delays.values()) < 1.0, delays

            for page in pages.values():
                assert page.evaluate("window.__marker") == 1  # no reload
                assert card_ids(page) == ["p-gamma", "p-beta", "p-alpha"]
                row = page.locator("table[data-recent-events] > tbody > tr").first
                assert "provider.state_changed" in row.inner_text() or "provider.updated" in row.inner_text()
                assert page.locator("table[data-recent-events] > tbody > tr").count() <= 10
            assert "#1" in viewer.inner_text("article[data-provider=p-gamma] .routing")
            assert "standby" in viewer.inner_text("article[data-provider=p-alpha] .status")
            # Focus stayed on the same control of the re-rendered, moved card; the page did not jump.
            assert viewer.evaluate("document.activeElement.dataset.testid") == "edit-p-alpha"
            assert viewer.evaluate("window.scrollY") == scrolled
            # The viewer never got the value: not in the page, not in a frame; the admin's row has it.
            assert canary not in viewer.content()
            assert not any(canary in str(frame) for frame in frames)
            admin.locator("table[data-recent-events] > tbody > tr:has-text('p-gamma') summary").first.click()
            assert canary in admin.inner_text("table[data-recent-events]")

            # The viewer reaches no editing, testing or secret control: each one there is disabled
            # with the tooltip; the edit link reads "View settings" (a read-only page).
            # (A closed dialog's own buttons are not on screen, so not reachable.)
            controls = [c for c in viewer_controls(viewer) if c["visible"]]
            assert controls, "no control found at all"
            for control in controls:
                if control["tag"] == "A":
                    assert control["text"] == "View settings" and control["title"] == LOCKED, control
                    assert "/edit/" in control["href"], control
                else:
                    assert control["disabled"] and control["title"] == LOCKED, control
            testids = {c["testid"] for c in controls}
            for expected in ("new-provider", "run-all-checks", "test-p-alpha", "secret-p-alpha", "edit-p-alpha"):
                assert expected in testids, (expected, sorted(testids))
            assert viewer.locator("main input[type=password]").count() == 0
            save_screenshot(viewer, "viewer")

            # 3. The socket drops and comes back on its own: a change after that still arrives.
            old_socket = viewer.evaluate_handle("window.ProviderConsole.listStream.socket")
            viewer.evaluate("window.ProviderConsole.listStream.socket.close()")
            viewer.wait_for_function("s => { const now = window.ProviderConsole.listStream.socket; "
                                     "return now && now !== s && now.readyState === 1 }", arg=old_socket, timeout=10000)
            time.sleep(0.2)
            delays = after_change(site, {"viewer": viewer}, "p-beta", {"priority": 40},
                                  ["p-gamma", "p-beta", "p-alpha"], "priority 40")
            print(f"after a reconnection: {delays}")

            # 4. A change made while the socket is down shows up once it is back (the stream
            # fills the gap from GET /api/events). The reconnection is held until the change is
            # committed, so the change cannot arrive over the socket.
            viewer.evaluate("() => { const s = window.ProviderConsole.listStream; s.ended = true; s.socket.close(); }")
            viewer.wait_for_function("() => window.ProviderConsole.listStream.socket === null")
            before = newest_event_id(viewer)
            patch(site, "p-beta", {"priority": 1})
            time.sleep(0.5)
            assert "priority 40" in viewer.inner_text("article[data-provider=p-beta] .routing")  # not yet: no socket
            began = time.monotonic()
            viewer.evaluate("() => { const s = window.ProviderConsole.listStream; s.ended = false; s.connect(); }")
            shown(viewer, f"""() => {{
                const first = document.querySelector('.chain-nodes > .node');
                const card = document.querySelector('[data-live-cards] > article.card[data-provider=p-beta]');
                const row = document.querySelector('table[data-recent-events] > tbody > tr');
                return first && first.dataset.provider === 'p-beta' && card.innerText.includes('priority 1 ')
                    && Number(row.dataset.eventId) > {before};
            }}""")
            print(f"missed change shown {time.monotonic() - began:.3f} s after reconnecting")
            assert viewer.evaluate("window.__marker") == 1
        finally:
            browser.close()


def test_refresh_list_resolves_after_the_swap_and_announces_it(site):
    """ProviderConsole.refreshList() for the page's own actions: at once, without an event."""
    from tests.browser import browser_page

    with browser_page() as page:
        sign_in(page, site.url, "alice", ADMIN_PASSWORD)
        page.wait_for_selector("[data-testid=routing-chain]")
        stream_connected(page)
        # Stop the stream so only refreshList() can bring the change.
        page.evaluate("() => { const s = window.ProviderConsole.listStream; s.ended = true; s.socket.close(); }")
        page.evaluate("""() => { window.__updates = [];
            document.addEventListener('console:list-updated', e => window.__updates.push(e.detail)); }""")
        patch(site, "p-gamma", {"display_name": "Gamma renamed"})
        time.sleep(0.3)
        assert "Gamma renamed" not in page.inner_text("[data-live-cards]")
        result = page.evaluate("() => window.ProviderConsole.refreshList().then(r => ({r, text: "
                               "document.querySelector('article[data-provider=p-gamma]').innerText}))")
        assert "Gamma renamed" in result["text"]
        assert result["r"]["changed"] == ["p-gamma"]
        assert page.evaluate("window.__updates.length") == 1
        assert page.evaluate("window.__updates[0].changed") == ["p-gamma"]
        assert "card-updated" in page.get_attribute("article[data-provider=p-gamma]", "class")
        # Nothing changed: a refresh swaps no card.
        again = page.evaluate("() => window.ProviderConsole.refreshList()")
        assert again["changed"] == [] and again["chainChanged"] is False


def scripts_ran(page) -> None:
    """The page's deferred scripts run after the markup is parsed: the chain can be there first."""
    page.wait_for_function("() => !!(window.ProviderConsole && window.ProviderConsole.toast && window.ProviderConsole.reltime)")


def test_toasts_close_and_leave_and_errors_stay(site):
    from tests.browser import browser_page

    with browser_page() as page:
        sign_in(page, site.url, "alice", ADMIN_PASSWORD)
        page.wait_for_selector("[data-testid=routing-chain]")
        scripts_ran(page)
        page.evaluate("""() => {
            window.ProviderConsole.toast('Saved <b>x</b>.', 'success', {testid: 't-ok', timeout: 600});
            window.ProviderConsole.toast('It broke.', 'error', {testid: 't-err'});
            window.ProviderConsole.toast('Archived.', 'success', {testid: 't-undo',
                action: {label: 'Undo', testid: 'undo', form: {action: '/providers/p-alpha/restore/'}}});
        }""")
        ok = page.locator("[data-testid=t-ok]")
        assert ok.inner_text().startswith("Saved <b>x</b>.")  # text, never HTML
        assert page.get_attribute("[data-testid=t-err]", "role") == "alert"
        assert page.get_attribute("[data-testid=toasts]", "aria-live") == "polite"
        ok.wait_for(state="detached", timeout=3000)  # a success toast leaves on its own
        time.sleep(0.3)
        assert page.locator("[data-testid=t-err]").count() == 1  # an error stays
        undo_form = page.locator("[data-testid=t-undo] form")
        assert undo_form.get_attribute("method") == "post"
        assert page.locator("[data-testid=t-undo] input[name=csrfmiddlewaretoken]").input_value()
        close = page.locator("[data-testid=t-err] .toast-close")
        assert close.bounding_box()["height"] >= 32
        close.click()
        assert page.locator("[data-testid=t-err]").count() == 0
        # Keyboard: focus the close button and press Enter.
        page.evaluate("() => window.ProviderConsole.toast('Keyboard.', 'info', {testid: 't-key', timeout: 0})")
        page.focus("[data-testid=t-key] .toast-close")
        page.keyboard.press("Enter")
        assert page.locator("[data-testid=t-key]").count() == 0


def test_relative_times_tick_in_the_browser(site):
    from tests.browser import browser_page

    with browser_page() as page:
        sign_in(page, site.url, "victor", VIEWER_PASSWORD)
        page.wait_for_selector("[data-testid=routing-chain]")
        scripts_ran(page)
        text = page.evaluate("""() => {
            const t = document.createElement('time');
            t.setAttribute('datetime', new Date(Date.now() - 65000).toISOString());
            t.setAttribute('data-relative', ''); t.setAttribute('data-prefix', 'checked');
            t.id = 'probe-time'; document.querySelector('main').appendChild(t);
            window.ProviderConsole.reltime.refresh();
            return t.textContent; }""")
        assert text == "checked 1 min ago"
        texts = page.evaluate("""() => [0, 0.5, 1, 12.7, 60, 3599, 3600, 86400, -5].map(
            s => window.ProviderConsole.reltime.text(s))""")
        assert texts == ["just now", "just now", "1 s ago", "12 s ago", "1 min ago", "59 min ago", "1 h ago", "1 d ago", "in 5 s"]
