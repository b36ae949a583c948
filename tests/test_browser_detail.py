"""A provider's page in a real browser with an hour of checks: the latency and success chart
drawn on the server, the check history in pages, and the provider's own events with the
before/after of each change (issue: the console, §6)."""

from __future__ import annotations

import math
import os
import random
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from health.models import HealthCheck
from providers import services
from tests.browser import browser_page
from tests.test_browser import save_screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def an_hour_of_checks(provider_id: str) -> int:
    """Two checks a minute for the last hour: latency that drifts between 40 and 160 ms, and a
    five-minute outage of timeouts twenty minutes ago."""
    rng = random.Random(8)
    now = timezone.now()
    rows = []
    for minute in range(60, 0, -1):
        for second in (5, 35):
            at = now - timedelta(minutes=minute) + timedelta(seconds=second)
            down = 18 <= minute <= 22
            rows.append(HealthCheck(
                provider_id=provider_id, checked_at=at, ok=not down,
                error_code="timeout" if down else None,
                error_message="No answer within 2000 ms. Check that the server is up." if down else "",
                latency_ms=None if down else round(60 + 40 * ((60 - minute) % 20) / 20 + rng.uniform(-15, 40)),
                http_status=None if down else 200, model="gpt-4o-mini", provider_status="active", actor_name="scheduler",
            ))
    HealthCheck.objects.bulk_create(rows)
    return len(rows)


def test_the_detail_page_shows_the_hour_as_a_chart_the_history_in_pages_and_the_changes(
    live_server, admin_user, provider_factory
):
    provider = provider_factory(id="openai-prod", display_name="OpenAI production", priority=10, secret_policy="none")
    count = an_hour_of_checks(provider.id)
    services.update_provider(provider, {"priority": 5, "timeout_ms": 2000}, actor=admin_user)

    with browser_page() as page:
        sign_in(page, live_server.url, "alice", "pw-alice")
        page.goto(f"{live_server.url}/providers/openai-prod/")
        chart = page.locator("[data-testid=latency-chart] svg")
        label = chart.get_attribute("aria-label")
        # The outage's 10 failed checks are in the hour (its oldest minute may fall outside).
        summary = re.search(r"Success ([\d.]+) % · 10 of (\d+) failed", page.inner_text("[data-testid=latency-chart]"))
        assert summary and int(summary[2]) in (118, 119, 120), label
        # Rounded down to a tenth, so 99.96 % never reads as 100 % (console/charts.py).
        assert float(summary[1]) == math.floor(1000 * (int(summary[2]) - 10) / int(summary[2])) / 10
        assert chart.locator(".chart-fail, rect.fail, .fail").count() >= 5
        assert chart.locator("path, polyline").count() >= 2

        history = page.locator("[data-testid=history] tbody tr")
        assert history.count() == 20
        assert f"({count} checks)" in page.inner_text("[data-testid=checks-pages]")
        page.click("[data-testid=checks-pages] a[rel=next]")
        page.wait_for_url("**checks_page=2**")
        assert "checks page 2 of 6" in page.inner_text("[data-testid=checks-pages]")
        page.goto(f"{live_server.url}/providers/openai-prod/")

        change = page.locator("[data-testid=provider-events] [data-testid=event-row]", has_text="provider.updated")
        change.locator("summary").click()
        rows = change.locator(".payload-changes tbody tr").all_inner_texts()
        assert any(r.split("\t")[0] == "priority" and "10" in r and "5" in r for r in rows), rows
        save_screenshot(page, "provider-detail")
