"""`GET /metrics`: the fleet in the Prometheus text format (API.md, "Operations"; docs/metrics.md).

Read through the URL with Django's client and parsed with prometheus_client's own parser; the
figures are checked against history seeded at known times and against real `run_checks` calls
to a local simulator.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from guardian.shortcuts import assign_perm
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import ApiToken
from conftest import make_user
from health.models import HealthCheck
from health.runner import run_checks
from health.simulator import Route, SimulatorServer
from providers.models import Status
from secrets_vault.services import set_secret

pytestmark = pytest.mark.django_db

TOKEN = "metrics-scrape-token-0123456789abcdef"
CANARY = "sk-canary-" + "7" * 32


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client | None = None, **headers) -> tuple[int, dict]:
    """GET /metrics with the scraper's token; `{(name, labels as a sorted tuple): value}`."""
    client = client or Client()
    response = client.get("/metrics", headers=headers or {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return response, samples


def of(samples: dict, name: str, provider, **labels) -> float | None:
    key = (name, tuple(sorted({"provider": provider.pk, "kind": provider.kind, **labels}.items())))
    return samples.get(key)


def seed(provider, ago: timedelta, *, ok: bool, latency_ms: int | None, error_code: str | None = None, count: int = 1):
    at = timezone.now() - ago
    HealthCheck.objects.bulk_create(
        HealthCheck(provider=provider, checked_at=at, ok=ok, latency_ms=latency_ms, error_code=error_code,
                    provider_status=provider.status)
        for _ in range(count)
    )


@pytest.fixture
def fleet(provider_factory):
    """`checked`: a history whose figures are known; `fresh`: never checked, first in the
    chain; `archived`: left out."""
    fresh = provider_factory(id="fresh", priority=10, secret_policy="none")
    checked = provider_factory(id="checked", priority=20, secret_policy="none", kind="ollama")
    archived = provider_factory(id="archived", priority=5, secret_policy="none", archived_at=timezone.now())
    for latency in range(100, 2001, 100):  # 20 passes two minutes ago: 100, 200, … 2000 ms
        seed(checked, timedelta(minutes=2), ok=True, latency_ms=latency)
    seed(checked, timedelta(minutes=3), ok=False, latency_ms=None, error_code="timeout", count=3)
    seed(checked, timedelta(seconds=30), ok=False, latency_ms=50, error_code="server_error", count=5)
    seed(checked, timedelta(seconds=5), ok=True, latency_ms=777)  # the latest
    seed(checked, timedelta(minutes=10), ok=True, latency_ms=99_999, count=10)  # outside every window
    seed(archived, timedelta(seconds=5), ok=True, latency_ms=1)
    return fresh, checked, archived


def test_the_health_figures_come_from_the_seeded_history(fleet):
    fresh, checked, archived = fleet

    response, samples = scrape()

    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert response["Cache-Control"] == "no-store"
    assert of(samples, "provider_latency_ms_last", checked) == 777
    # Passing checks of the window: 100 … 2000 and 777 (21 values); the 99,999s are older.
    assert of(samples, "provider_latency_ms_avg_5m", checked) == pytest.approx(21_777 / 21)
    assert of(samples, "provider_latency_ms_p95_5m", checked) == 1900  # the 20th of 21
    assert of(samples, "provider_success_rate_5m", checked) == pytest.approx(21 / 29, abs=1e-4)
    assert of(samples, "provider_failures_last_1m", checked) == 5
    since = of(samples, "provider_seconds_since_last_check", checked)
    assert 5 <= since < 5 + 120  # seeded 5 s before the request (plus however long the test took)


def test_status_and_serving_provider(fleet, provider_factory):
    fresh, checked, archived = fleet
    degraded = provider_factory(id="degraded", priority=1, secret_policy="none", status=Status.DEGRADED)

    _, samples = scrape()

    for status in Status.values:
        assert of(samples, "provider_status", degraded, status=status) == (1.0 if status == "degraded" else 0.0)
        assert of(samples, "provider_status", fresh, status=status) == (1.0 if status == "active" else 0.0)
    # The chain serves from the first healthy provider; degraded ones come after the healthy.
    assert of(samples, "routing_chain_serving", fresh) == 1
    assert of(samples, "routing_chain_serving", checked) == 0
    assert of(samples, "routing_chain_serving", degraded) == 0
    assert sum(v for (name, _), v in samples.items() if name == "routing_chain_serving") == 1


def test_a_provider_never_checked_has_only_its_status_and_serving(fleet):
    fresh, checked, archived = fleet

    _, samples = scrape()

    names = {name for (name, labels) in samples if ("provider", fresh.pk) in labels}
    assert names == {"provider_status", "routing_chain_serving"}


def test_archived_providers_are_left_out(fleet):
    fresh, checked, archived = fleet

    response, samples = scrape()

    assert not [key for key in samples if ("provider", archived.pk) in key[1]]
    assert b'provider="archived"' not in response.content


@pytest.fixture
def sim_server() -> Iterator[SimulatorServer]:
    routes = [
        Route("/ok/v1", "openai_compatible", ["gpt-4o-mini"]),
        Route("/fail/500/v1", "openai_compatible", ["gpt-4o-mini"], failures=("500",)),
        Route("/fail/hang/v1", "openai_compatible", ["gpt-4o-mini"], failures=("hang",)),
    ]
    with SimulatorServer(routes) as server:
        yield server


def on(server, provider_factory, pid: str, prefix: str, **fields):
    return provider_factory(
        id=pid, endpoint=server.url(prefix), default_model="gpt-4o-mini", fallback_models=[], retries=0,
        timeout_ms=fields.pop("timeout_ms", 2000), secret_policy="none", **fields,
    )


def test_check_counters_follow_run_checks_and_survive_the_purge(sim_server, provider_factory):
    ok = on(sim_server, provider_factory, "ok", "/ok/v1")
    broken = on(sim_server, provider_factory, "broken", "/fail/500/v1")
    silent = on(sim_server, provider_factory, "silent", "/fail/hang/v1", timeout_ms=200)

    run_checks([ok, broken, silent])
    run_checks([ok, broken])
    _, samples = scrape()

    assert of(samples, "provider_checks_total", ok, result="pass", error_code="") == 2
    assert of(samples, "provider_checks_total", broken, result="fail", error_code="server_error") == 2
    assert of(samples, "provider_checks_total", silent, result="fail", error_code="timeout") == 1
    assert of(samples, "provider_checks_total", ok, result="fail", error_code="timeout") is None
    assert of(samples, "provider_failures_last_1m", broken) == 2
    assert of(samples, "provider_success_rate_5m", ok) == 1

    call_command("purge_history", days=0, stdout=io.StringIO())
    run_checks([ok])
    _, after = scrape()

    assert of(after, "provider_checks_total", ok, result="pass", error_code="") == 3  # counted on, not recounted
    assert of(after, "provider_checks_total", broken, result="fail", error_code="server_error") == 2
    assert of(after, "provider_failures_last_1m", broken) is None  # its history is gone


def test_the_serving_provider_follows_a_failed_check(sim_server, provider_factory):
    first = on(sim_server, provider_factory, "first", "/fail/hang/v1", timeout_ms=200, priority=1)
    second = on(sim_server, provider_factory, "second", "/ok/v1", priority=2)
    _, before = scrape()

    run_checks([first, second])
    _, after = scrape()

    assert (of(before, "routing_chain_serving", first), of(before, "routing_chain_serving", second)) == (1, 0)
    assert (of(after, "routing_chain_serving", first), of(after, "routing_chain_serving", second)) == (0, 1)
    assert of(after, "provider_status", first, status="unreachable") == 1
    assert of(after, "provider_status", first, status="active") == 0


def test_no_secret_reaches_the_output(fleet, admin_user):
    fresh, checked, archived = fleet
    checked.secret_policy = "optional"
    checked.save()
    set_secret(checked, CANARY, actor=admin_user)

    response, _ = scrape()

    assert CANARY.encode() not in response.content
    assert CANARY[:12].encode() not in response.content
    assert TOKEN.encode() not in response.content


# --- Who may read it -----------------------------------------------------------------------


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_is_asked_to_authenticate(fleet):
    response = Client().get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response["Cache-Control"] == "no-store"
    assert b"provider_" not in response.content


@pytest.mark.parametrize("header", [
    bearer("wrong-token"), bearer(TOKEN[:-1]), bearer(TOKEN + "x"), {"Authorization": "Bearer"},
    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Token {TOKEN}"},
])
def test_a_wrong_token_is_401(fleet, header):
    response = Client().get("/metrics", headers=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"provider_" not in response.content


def test_no_metrics_token_configured_lets_no_empty_token_in(fleet, settings):
    settings.METRICS_TOKEN = ""

    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    assert Client().get("/metrics", headers=bearer(TOKEN)).status_code == 401


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_viewers_and_admins_may_read_it_signed_in_or_with_an_api_token(fleet, role):
    user = make_user(f"reader-{role}", role)
    _, raw = ApiToken.issue(user)

    assert signed_in(user).get("/metrics").status_code == 200
    response, samples = scrape(Client(), **bearer(raw))
    assert of(samples, "provider_latency_ms_last", fleet[1]) == 777


def test_a_revoked_api_token_is_401(fleet, viewer_user):
    token, raw = ApiToken.issue(viewer_user)
    token.revoke()

    assert Client().get("/metrics", headers=bearer(raw)).status_code == 401


def test_a_user_without_a_role_is_403(fleet, outsider_user):
    assert signed_in(outsider_user).get("/metrics").status_code == 403


def test_a_user_with_only_delegated_providers_is_403(fleet, outsider_user):
    fresh, checked, archived = fleet
    assign_perm("providers.view_provider", outsider_user, checked)
    _, raw = ApiToken.issue(outsider_user)

    response = signed_in(outsider_user).get("/metrics")

    assert response.status_code == 403
    assert b"provider_" not in response.content
    assert Client().get("/metrics", headers=bearer(raw)).status_code == 403


def test_the_global_view_permission_alone_is_enough(fleet, outsider_user):
    outsider_user.user_permissions.add(Permission.objects.get(codename="view_provider", content_type__app_label="providers"))

    assert signed_in(outsider_user).get("/metrics").status_code == 200


def test_only_get(fleet):
    assert Client().post("/metrics", headers=bearer(TOKEN)).status_code == 405


# --- Cost ------------------------------------------------------------------------------------


def grow(provider_factory, admin_user, start: int, stop: int) -> None:
    """Providers with history in and out of the windows, secrets and counts."""
    for i in range(start, stop):
        provider = provider_factory(id=f"fleet-{i:03d}", secret_policy="optional" if i % 2 else "none")
        if i % 2:
            set_secret(provider, f"sk-fleet-{i:03d}-" + "x" * 24, actor=admin_user)
        seed(provider, timedelta(seconds=20), ok=True, latency_ms=100 + i, count=3)
        seed(provider, timedelta(seconds=40), ok=False, latency_ms=None, error_code="timeout")
        seed(provider, timedelta(hours=2), ok=True, latency_ms=5, count=2)
    provider_factory(id=f"gone-{start}", archived_at=timezone.now())


def queries_of_a_scrape() -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response, samples = scrape()
    return len(queries), sum(1 for (name, _) in samples if name == "provider_latency_ms_last")


def test_the_query_count_does_not_grow_with_the_fleet(provider_factory, admin_user, sim_server):
    grow(provider_factory, admin_user, 0, 3)
    run_checks([on(sim_server, provider_factory, "probed-0", "/ok/v1")])  # a counted provider
    small, seen_small = queries_of_a_scrape()

    grow(provider_factory, admin_user, 3, 30)
    run_checks([on(sim_server, provider_factory, "probed-1", "/ok/v1")])
    large, seen_large = queries_of_a_scrape()

    assert (seen_small, seen_large) == (4, 32)
    assert small == large, (small, large)
    assert large <= 8  # providers, secrets (and their projection), health (2–3), counts
