"""`run_checks(record_as_they_finish=True)`: each outcome is committed as soon as its probe ends.

A local simulator answers one provider after 1.5 s and the others at once. The fast
providers' check rows and `provider.tested` events (with the run's id) must be in the database
before the slow probe ends; the default path (the API's) still writes everything at the end.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from audit.models import AuditEvent
from health.models import HealthCheck
from health.runner import run_checks
from health.simulator import Route, SimulatorServer

SLOW_MS = 1500


@pytest.fixture
def servers():
    routes = [
        Route("/fast/v1", "openai_compatible", ["m"]),
        Route("/slow/v1", "openai_compatible", ["m"], latency_ms=SLOW_MS),
        Route("/down/v1", "openai_compatible", ["m"], failures=("500",)),
    ]
    with SimulatorServer(routes) as server:
        yield server


def make(provider_factory, servers, pid: str, prefix: str):
    return provider_factory(
        id=pid, name=pid, endpoint=servers.url(prefix), default_model="m", fallback_models=[],
        timeout_ms=5000, retries=0, secret_policy="none",
    )


@pytest.mark.django_db(transaction=True)
def test_outcomes_are_recorded_as_they_finish_with_the_run_id(provider_factory, servers):
    providers = [
        make(provider_factory, servers, "slow", "/slow/v1"),
        make(provider_factory, servers, "fast", "/fast/v1"),
        make(provider_factory, servers, "down", "/down/v1"),
    ]
    seen: list[tuple[float, list[str], set[str], set[str]]] = []
    started = time.monotonic()

    def recorded(rows):
        assert not connection.in_atomic_block  # each batch is committed on its own
        ids = [row.provider_id for row in rows]
        in_db = set(HealthCheck.objects.filter(provider_id__in=ids).values_list("provider_id", flat=True))
        events = AuditEvent.objects.filter(event="provider.tested", provider_id__in=ids)
        run_ids = {event.payload["run_id"] for event in events}
        assert {event.provider_id for event in events} == set(ids)
        seen.append((time.monotonic() - started, ids, in_db, run_ids))

    result = run_checks(providers, record_as_they_finish=True, run_id="run42", on_recorded=recorded, actor="tester")
    elapsed = time.monotonic() - started

    assert [c.provider_id for c in result.checks] == ["slow", "fast", "down"]  # input order
    assert [c.ok for c in result.checks] == [True, True, False]
    order = [pid for _, ids, _, _ in seen for pid in ids]
    assert sorted(order) == ["down", "fast", "slow"] and order[-1] == "slow"
    for _at, ids, in_db, run_ids in seen:
        assert in_db == set(ids) and run_ids == {"run42"}
    fast_at = max(at for at, ids, _, _ in seen if "slow" not in ids)
    slow_at = next(at for at, ids, _, _ in seen if "slow" in ids)
    print(f"fast outcomes committed after {fast_at * 1000:.0f} ms, the slow one after {slow_at * 1000:.0f} ms")
    assert fast_at < SLOW_MS / 1000 <= slow_at <= elapsed
    assert HealthCheck.objects.count() == 3
    assert AuditEvent.objects.filter(event="provider.tested", payload__run_id="run42").count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_default_path_records_everything_at_the_end(provider_factory, servers):
    providers = [make(provider_factory, servers, "slow", "/slow/v1"), make(provider_factory, servers, "fast", "/fast/v1")]
    rows_when_fast_ended: list[int] = []

    def arrived(outcome):
        if outcome.provider_id == "fast":
            rows_when_fast_ended.append(HealthCheck.objects.count())

    result = run_checks(providers, on_result=arrived)
    assert rows_when_fast_ended == [0]
    assert result.checked == 2 and HealthCheck.objects.count() == 2
    assert all("run_id" not in e.payload for e in AuditEvent.objects.filter(event="provider.tested"))
