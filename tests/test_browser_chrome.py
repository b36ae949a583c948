"""The site's look in a real browser: usable at 390 px wide (no horizontal scroll, buttons at
least 32 px high), keyboard focus visible, and the dark theme when the system asks for it."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from health.models import HealthCheck
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_browser import save_screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PHONE = (390, 844)

BUTTONS = "button, a.button, input[type=submit], input[type=button], .btn"
VISIBLE_BUTTON_HEIGHTS = f"""() => [...document.querySelectorAll({BUTTONS!r})]
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .map(e => [e.textContent.trim() || e.value || e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])"""


@contextmanager
def browser_page(viewport=(1280, 900), color_scheme="light"):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]}, color_scheme=color_scheme
            )
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture
def fleet(provider_factory):
    """Providers with long names, endpoints and a failure message, as a real fleet has."""
    provider_factory(
        id="openai-prod", display_name="OpenAI production (primary, us-east)", priority=10, secret_policy="none",
        endpoint="https://api.openai-compatible-gateway.internal.example.test/v1/organisations/ml-platform",
        fallback_models=["gpt-4o", "gpt-4.1-mini", "o3-mini-2025-01-31-long-model-name"],
    )
    provider_factory(id="azure-east", display_name="Azure East", priority=20, secret_policy="none")
    provider_factory(id="ollama-local", display_name="Ollama (local)", kind="ollama", priority=30,
                     endpoint="http://127.0.0.1:11434", default_model="llama3.2:3b", fallback_models=[])
    now = timezone.now()
    for minutes, ok in ((3, True), (2, False), (1, True)):
        HealthCheck.objects.create(
            provider_id="openai-prod", checked_at=now - timedelta(minutes=minutes), ok=ok,
            latency_ms=120 + minutes if ok else None, http_status=200 if ok else 503,
            error_code=None if ok else "server_error",
            error_message="" if ok else "The provider answered 503 Service Unavailable: it is overloaded or "
            "restarting; check its status page, then Test again or lower its priority meanwhile.",
            provider_status="active", actor_name="alice",
        )


def rgb(value: str) -> tuple[int, int, int]:
    return tuple(int(v) for v in re.findall(r"\d+", value)[:3])


def luminance(value: str) -> float:
    r, g, b = rgb(value)
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def assert_fits_the_phone(page, where: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"{where}: the page is {width} px wide on a {PHONE[0]} px screen"


def assert_buttons_are_tall_enough(page, where: str) -> None:
    heights = page.evaluate(VISIBLE_BUTTON_HEIGHTS)
    assert heights, f"{where}: no button to measure"
    short = [(label, round(height, 1)) for label, height in heights if height < 32]
    assert not short, f"{where}: buttons lower than 32 px: {short}"


def test_the_console_is_usable_on_a_390_px_phone(live_server, admin_user, fleet):
    with browser_page(viewport=PHONE) as page:
        sign_in(page, live_server.url, "alice", "pw-alice")
        page.wait_for_selector("[data-testid=routing-chain]")
        for path in ("/", "/providers/openai-prod/", "/providers/openai-prod/secret/", "/account/"):
            page.goto(live_server.url + path)
            assert_fits_the_phone(page, path)
            assert_buttons_are_tall_enough(page, path)
        # The check history is wider than the phone: it scrolls inside its own box.
        page.goto(live_server.url + "/providers/openai-prod/")
        history = page.locator("[data-testid=history]")
        assert history.evaluate("e => e.scrollWidth > e.clientWidth && getComputedStyle(e).overflowX === 'auto'")
        # The admin and the browsable API: the shared top bar wraps, nothing pushes the page wider.
        for path in ("/admin/", "/api/providers"):
            page.goto(live_server.url + path)
            assert_fits_the_phone(page, path)
            assert page.locator("[data-testid=topbar] button").bounding_box()["height"] >= 32
        page.goto(live_server.url + "/")
        page.wait_for_selector("[data-testid=routing-chain]")
        save_screenshot(page, "phone")


def test_keyboard_focus_is_visible_on_links_and_buttons(live_server, admin_user, fleet):
    with browser_page(viewport=PHONE) as page:
        sign_in(page, live_server.url, "alice", "pw-alice")
        page.wait_for_selector("[data-testid=routing-chain]")
        seen = set()
        for _ in range(40):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                """() => { const e = document.activeElement, s = getComputedStyle(e);
                   return {tag: e.tagName.toLowerCase(), text: e.textContent.trim().slice(0, 40),
                           style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
            )
            if focused["tag"] not in ("a", "button"):
                continue
            assert focused["style"] != "none" and focused["width"] >= 2, focused
            seen.add(focused["tag"])
            if seen == {"a", "button"} and focused["text"] == "Test":
                break
        assert seen == {"a", "button"}
        # Inside the page (not only the top bar): a card's Test button was reached and outlined.
        assert focused["text"] == "Test"


def test_the_dark_theme_follows_the_system(live_server, viewer_user, admin_user, fleet):
    with browser_page(color_scheme="dark") as page:
        sign_in(page, live_server.url, "victor", "pw-victor")
        page.wait_for_selector("[data-testid=routing-chain]")
        body = page.evaluate("getComputedStyle(document.body).backgroundColor")
        text = page.evaluate("getComputedStyle(document.body).color")
        card = page.locator("article.card").first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert luminance(body) < 0.15, body
        assert luminance(card) < 0.2, card
        assert luminance(text) > 0.8, text
        save_screenshot(page, "dark")
        page.goto(live_server.url + "/api/providers")
        assert luminance(page.evaluate("getComputedStyle(document.body).backgroundColor")) < 0.15
    # And light when the system is light.
    with browser_page(color_scheme="light") as page:
        sign_in(page, live_server.url, "victor", "pw-victor")
        page.wait_for_selector("[data-testid=routing-chain]")
        assert luminance(page.evaluate("getComputedStyle(document.body).backgroundColor")) > 0.9
