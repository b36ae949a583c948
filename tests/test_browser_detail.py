"""A provider's page in a real browser with an hour of checks: the latency and success chart
drawn on the server, the check history in pages, and the provider's own events with the
before/after of each change (issue: the console, §6)."""

from __future__ import annotations

import math
import re
from http import HTTPStatus

import pytest

from tests.browser import browser_page
from tests.site_process import configured_site
from tests.test_browser import save_screenshot, sign_in

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "pw-alice-" + "x" * 8

# Two checks a minute for the last hour, written in the site's own database: latency that
# drifts between 40 and 160 ms, and a five-minute outage of timeouts twenty minutes ago.
AN_HOUR_OF_CHECKS = """
import random
from datetime import timedelta
from django.utils import timezone
from health.models import HealthCheck
rng = random.Random(8)
now = timezone.now()
rows = []
for minute in range(60, 0, -1):
    for second in (5, 35):
        down = 18 <= minute <= 22
        rows.append(HealthCheck(
            provider_id="openai-prod", checked_at=now - timedelta(minutes=minute) + timedelta(seconds=second), ok=not down,
            error_code="timeout" if down else None,
            error_message="No answer within 2000 ms. Check that the server is up." if down else "",
            latency_ms=None if down else round(60 + 40 * ((60 - minute) % 20) / 20 + rng.uniform(-15, 40)),
            http_status=None if down else 200, model="gpt-4o-mini", provider_status="active", actor_name="scheduler",
        ))
HealthCheck.objects.bulk_create(rows)
print(len(rows))
"""


def test_the_detail_page_shows_the_hour_as_a_chart_the_history_in_pages_and_the_changes():
    with configured_site() as site, browser_page() as page:
        api = site.api_session(site.operators_with_token({"alice": ("admin", ADMIN_PASSWORD)}, token_for="alice"))
        created = api.post(f"{site.url}/api/providers", json={
            "id": "openai-prod", "name": "openai-prod", "display_name": "OpenAI production", "kind": "openai_compatible",
            "secret_policy": "none", "endpoint": "https://openai-prod.example.test/v1", "default_model": "gpt-4o-mini",
            "fallback_models": ["gpt-4o"], "priority": 10,
        }, timeout=10)
        assert created.status_code == HTTPStatus.CREATED, created.text
        count = int(site.manage("shell", "--no-imports", "-c", AN_HOUR_OF_CHECKS).stdout.split()[-1])
        assert api.patch(f"{site.url}/api/providers/openai-prod", json={"priority": 5, "timeout_ms": 2000}, timeout=10).ok

        sign_in(page, site.url, "alice", ADMIN_PASSWORD)
        page.goto(f"{site.url}/providers/openai-prod/")
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
        page.goto(f"{site.url}/providers/openai-prod/")

        change = page.locator("[data-testid=provider-events] [data-testid=event-row]", has_text="provider.updated")
        change.locator("summary").click()
        rows = change.locator(".payload-changes tbody tr").all_inner_texts()
        assert any(r.split("\t")[0] == "priority" and "10" in r and "5" in r for r in rows), rows
        save_screenshot(page, "provider-detail")
