"""run_checks: rows, events and status moves (compare-and-set, never for disabled/archived)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from health.models import AppendOnlyError, HealthCheck
from health.runner import run_checks
from providers.models import Provider, Status, Tier

pytestmark = pytest.mark.django_db


def events(kind: str, provider_id: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=kind, provider_id=provider_id).order_by("id"))


def add_history(provider, *, ok: bool, count: int, minutes_ago: float = 1, latency_ms: int = 100) -> None:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    HealthCheck.objects.bulk_create(
        HealthCheck(
            provider=provider, checked_at=at, ok=ok, latency_ms=latency_ms, provider_status=provider.status,
            error_code=None if ok else "server_error",
        )
        for _ in range(count)
    )


def test_every_check_writes_a_row_and_a_tested_event(sim_provider, admin_user):
    provider = sim_provider("/open/v1")

    result = run_checks([provider], actor=admin_user)

    check = HealthCheck.objects.get()
    assert result.checks == [check]
    assert (check.ok, check.provider_status, check.actor_name) == (True, "active", "alice")
    [event] = events("provider.tested", provider.pk)
    assert event.actor_name == "alice"
    assert event.payload["check"]["status"] == "pass"
    assert event.payload["check"]["provider_id"] == provider.pk
    assert f"tested {provider.name}: pass in" in event.summary
    assert events("provider.state_changed", provider.pk) == []


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("/fail/hang/v1", Status.UNREACHABLE), ("/fail/drop/v1", Status.UNREACHABLE), ("/fail/500/v1", Status.DEGRADED),
     ("/fail/401/v1", Status.DEGRADED), ("/fail/non_json/v1", Status.DEGRADED)],
)
def test_a_failed_check_moves_the_provider(sim_provider, prefix, expected):
    provider = sim_provider(prefix, timeout_ms=200)

    [check] = run_checks([provider]).checks

    provider.refresh_from_db()
    assert provider.status == expected
    assert check.provider_status == expected
    [moved] = events("provider.state_changed", provider.pk)
    assert moved.payload["before"] == "active" and moved.payload["after"] == expected
    assert check.error_code in moved.payload["reason"]


def test_a_missing_secret_degrades_the_provider(sim_provider):
    provider = sim_provider("/openai/v1", secret_policy="required")
    run_checks([provider])
    provider.refresh_from_db()
    assert provider.status == Status.DEGRADED


@pytest.mark.parametrize("tier", [Tier.ACTIVE, Tier.STANDBY])
def test_a_passing_check_returns_the_provider_to_its_tier(sim_provider, tier):
    provider = sim_provider("/open/v1", tier=tier, status=Status.UNREACHABLE)

    [check] = run_checks([provider]).checks

    provider.refresh_from_db()
    assert provider.status == tier
    assert check.provider_status == tier
    [moved] = events("provider.state_changed", provider.pk)
    assert (moved.payload["before"], moved.payload["after"]) == ("unreachable", tier)
    assert "passed" in moved.payload["reason"]


def test_a_low_success_rate_keeps_a_passing_provider_degraded(sim_provider, settings):
    settings.HEALTH_DEGRADED_SUCCESS_RATE = 0.8
    provider = sim_provider("/open/v1", status=Status.DEGRADED)
    add_history(provider, ok=False, count=3)
    add_history(provider, ok=True, count=5)  # with this check: 6 of 9 = 67 % < 80 %

    run_checks([provider])

    provider.refresh_from_db()
    assert provider.status == Status.DEGRADED
    assert events("provider.state_changed", provider.pk) == []


def test_a_low_success_rate_degrades_a_healthy_provider(sim_provider, settings):
    settings.HEALTH_DEGRADED_SUCCESS_RATE = 0.8
    provider = sim_provider("/open/v1")
    add_history(provider, ok=False, count=2)

    run_checks([provider])  # 1 of 3 passed

    provider.refresh_from_db()
    assert provider.status == Status.DEGRADED
    [moved] = events("provider.state_changed", provider.pk)
    assert "success rate" in moved.payload["reason"]


def test_old_failures_outside_the_window_do_not_count(sim_provider):
    provider = sim_provider("/open/v1", status=Status.DEGRADED)
    add_history(provider, ok=False, count=10, minutes_ago=6)

    run_checks([provider])

    provider.refresh_from_db()
    assert provider.status == Status.ACTIVE


def test_disabled_and_archived_providers_never_move(sim_provider):
    disabled = sim_provider("/fail/500/v1", enabled=False, status=Status.DISABLED)
    archived = sim_provider("/fail/500/v1", archived_at=timezone.now())

    checks = run_checks([disabled, archived]).checks

    assert [c.ok for c in checks] == [False, False]
    assert Provider.objects.get(pk=disabled.pk).status == Status.DISABLED
    assert Provider.objects.get(pk=archived.pk).status == Status.ACTIVE
    assert not AuditEvent.objects.filter(event="provider.state_changed").exists()
    assert AuditEvent.objects.filter(event="provider.tested").count() == 2


def test_an_operator_change_made_during_the_probe_wins(sim_provider):
    provider = sim_provider("/fail/500/v1")
    Provider.objects.filter(pk=provider.pk).update(status=Status.STANDBY, tier=Tier.STANDBY)  # after loading

    [check] = run_checks([provider]).checks

    assert Provider.objects.get(pk=provider.pk).status == Status.STANDBY
    assert check.provider_status == Status.STANDBY
    assert events("provider.state_changed", provider.pk) == []


def test_probes_run_concurrently(sim_provider, settings):
    settings.PROBE_MAX_CONCURRENCY = 16
    providers = [sim_provider("/slow/v1") for _ in range(8)]  # 400 ms each

    started = time.monotonic()
    result = run_checks(providers)
    elapsed = time.monotonic() - started

    assert result.passed == 8
    assert elapsed < 1.2  # sequential would take 3.2 s


def test_the_pool_is_bounded_by_max_concurrency(sim_provider, settings):
    settings.PROBE_MAX_CONCURRENCY = 2
    providers = [sim_provider("/slow/v1") for _ in range(4)]

    started = time.monotonic()
    run_checks(providers)

    assert time.monotonic() - started >= 0.8  # two waves of 400 ms


def test_results_keep_the_order_of_the_providers(sim_provider):
    providers = [sim_provider("/slow/v1"), sim_provider("/open/v1"), sim_provider("/fail/500/v1")]
    checks = run_checks(providers).checks
    assert [c.provider_id for c in checks] == [p.pk for p in providers]


def test_on_result_reports_each_probe(sim_provider):
    seen = []
    run_checks([sim_provider("/open/v1"), sim_provider("/openai/v1", secret_policy="required")], on_result=seen.append)
    assert sorted(o.ok for o in seen) == [False, True]


def test_check_rows_are_append_only(sim_provider):
    [check] = run_checks([sim_provider("/open/v1")]).checks
    with pytest.raises(AppendOnlyError):
        check.save()
    with pytest.raises(AppendOnlyError):
        HealthCheck.objects.update(ok=False)
