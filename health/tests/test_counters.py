"""The cumulative check counts (health/counters.py): written with the check rows, in their
transaction, never lowered by the purge, and exact when two runs record at once."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from health.counters import count_checks, counts_for
from health.models import CheckCount, HealthCheck
from health.runner import ProbeOutcome, record_outcomes, run_checks

pytestmark = pytest.mark.django_db


def check(provider, ok: bool, error_code: str | None = None) -> HealthCheck:
    return HealthCheck(provider=provider, checked_at=timezone.now(), ok=ok, error_code=error_code, provider_status="active")


def test_run_checks_counts_each_check_by_result_and_error_code(sim_provider):
    passing = sim_provider("/open/v1")
    failing = sim_provider("/fail/500/v1")
    silent = sim_provider("/fail/hang/v1", timeout_ms=200)

    run_checks([passing, failing, silent])
    run_checks([passing])

    assert counts_for() == sorted([
        (passing.pk, "pass", "", 2),
        (failing.pk, "fail", "server_error", 1),
        (silent.pk, "fail", "timeout", 1),
    ])


def test_the_purge_leaves_the_counts_alone(sim_provider):
    provider = sim_provider("/open/v1")
    run_checks([provider])
    run_checks([provider])

    call_command("purge_history", days=0, stdout=io.StringIO())

    assert HealthCheck.objects.count() == 0
    assert counts_for([provider.pk]) == [(provider.pk, "pass", "", 2)]


def test_counts_roll_back_with_the_check_rows(provider_factory):
    provider = provider_factory()
    counted = check(provider, ok=False, error_code="timeout")
    count_checks([counted])

    class Abort(Exception):
        pass

    outcome = ProbeOutcome(
        provider_id=provider.pk, ok=True, error_code=None, error_message="", latency_ms=10, http_status=200,
        model="gpt-4o-mini", deep=False, checked_at=timezone.now(),
    )
    with pytest.raises(Abort), transaction.atomic():
        record_outcomes([provider], [outcome])
        assert counts_for([provider.pk]) == [(provider.pk, "fail", "timeout", 1), (provider.pk, "pass", "", 1)]
        raise Abort

    assert counts_for([provider.pk]) == [(provider.pk, "fail", "timeout", 1)]
    assert not HealthCheck.objects.exists()


def test_one_statement_for_a_batch_of_many_providers(provider_factory, django_assert_num_queries):
    providers = provider_factory.create_batch(5)
    rows = [check(p, ok=True) for p in providers] + [check(p, ok=False, error_code="timeout") for p in providers]
    with django_assert_num_queries(1):
        count_checks(rows * 3)
    assert sum(c.count for c in CheckCount.objects.all()) == 30
    assert CheckCount.objects.count() == 10


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers: PostgreSQL (SQLite has one writer)")
def test_two_runs_recording_at_once_lose_no_increment(provider_factory):
    providers = provider_factory.create_batch(3)
    rounds, start = 40, threading.Barrier(2)
    errors: list[BaseException] = []

    def recorder(order) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                with transaction.atomic():
                    count_checks([check(p, ok=True) for p in order] + [check(order[0], ok=False, error_code="timeout")])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            from django.db import connection as own

            own.close()

    threads = [threading.Thread(target=recorder, args=(order,)) for order in (providers, providers[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    counts = {(pid, result, code): n for pid, result, code, n in counts_for()}
    for p in providers:
        assert counts[(p.pk, "pass", "")] == 2 * rounds
    assert counts[(providers[0].pk, "fail", "timeout")] == rounds
    assert counts[(providers[-1].pk, "fail", "timeout")] == rounds


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_starts_the_counts_from_the_history_kept(provider_factory):
    from django.db.migrations.executor import MigrationExecutor

    provider = provider_factory()
    MigrationExecutor(connection).migrate([("health", "0003_healthcheck_error_code_secret_origin_mismatch")])
    try:
        HealthCheck.objects.bulk_create(
            [check(provider, ok=True) for _ in range(3)]
            + [check(provider, ok=False, error_code="timeout") for _ in range(2)]
            + [check(provider, ok=False, error_code=None)]
        )

        MigrationExecutor(connection).migrate([("health", "0004_checkcount")])

        assert counts_for([provider.pk]) == [
            (provider.pk, "fail", "", 1), (provider.pk, "fail", "timeout", 2), (provider.pk, "pass", "", 3),
        ]
    finally:  # leave the schema as the other tests expect it: every migration applied
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
