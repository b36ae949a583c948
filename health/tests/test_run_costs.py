"""What Run all does to keep its own cost down, through `run_checks` against the simulator:
the garbage collector's threshold raised only while a run goes (health/collector.py), and the
check rows written by one statement of their own (health/check_rows.py) reading back exactly
as the ORM would have written them, on either database."""

from __future__ import annotations

import gc
from datetime import timedelta

import pytest
from django.utils import timezone

from health import collector, errors, runner
from health.models import HealthCheck
from health.runner import run_checks

pytestmark = pytest.mark.django_db


def test_the_collectors_threshold_is_raised_while_a_run_probes_and_put_back_after(sim_provider, monkeypatch):
    providers = [sim_provider("/open/v1") for _ in range(3)]
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    real_probe_for = runner.probe_for

    def probe_for(provider, client):
        during.append(gc.get_threshold())
        return real_probe_for(provider, client)

    monkeypatch.setattr(runner, "probe_for", probe_for)
    assert run_checks(providers).passed == 3

    assert during == [(max(collector.RUN_THRESHOLD, before[0]), *before[1:])] * 3
    assert gc.get_threshold() == before


def test_overlapping_runs_put_the_threshold_back_only_when_the_last_ends():
    before = gc.get_threshold()
    with collector.fewer_collections():
        with collector.fewer_collections():
            assert gc.get_threshold()[0] == max(collector.RUN_THRESHOLD, before[0])
        assert gc.get_threshold()[0] == max(collector.RUN_THRESHOLD, before[0])
    assert gc.get_threshold() == before


def test_a_runs_check_rows_read_back_as_written_with_their_ids(sim_provider):
    passing = sim_provider("/open/v1")
    failing = sim_provider("/fail/500/v1")
    started = timezone.now()

    result = run_checks([passing, failing], record_as_they_finish=True, run_id="r-1")
    checks = result.checks

    assert [c.provider_id for c in checks] == [passing.pk, failing.pk]
    stored = {row.pk: row for row in HealthCheck.objects.filter(pk__in=[c.pk for c in checks])}
    assert sorted(stored) == sorted(c.pk for c in checks)
    for check in checks:
        row = stored[check.pk]
        for field in ("provider_id", "ok", "error_code", "error_message", "latency_ms", "http_status", "model",
                      "deep", "provider_status", "actor_name"):
            assert getattr(row, field) == getattr(check, field), field
        # The time survives the round trip to the microsecond, in UTC, on either database.
        assert row.checked_at == check.checked_at
        assert started - timedelta(seconds=1) <= row.checked_at <= timezone.now()
    assert stored[checks[0].pk].ok and stored[checks[0].pk].error_code is None
    failed = stored[checks[1].pk]
    assert (failed.ok, failed.error_code, failed.http_status) == (False, errors.ErrorCode.SERVER_ERROR, 500)
    assert failed.provider_status == "degraded"
    # Rows written this way are rows like any other: newest first per provider, append-only.
    assert HealthCheck.objects.for_provider(failing.pk).newest_first().first().pk == failed.pk
