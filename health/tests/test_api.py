"""The health endpoints of API.md, through the URL and the real client, for every role."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from audit.models import AuditEvent
from health.models import HealthCheck
from providers.models import Status

pytestmark = pytest.mark.django_db

CHECK_RESULT_FIELDS = {
    "provider_id", "ok", "status", "error_code", "error_message", "latency_ms", "http_status", "model",
    "deep", "checked_at", "provider_status",
}


def is_iso_z(value: str) -> bool:
    return isinstance(value, str) and value.endswith("Z") and "T" in value


# --- POST /api/providers/{id}/test --------------------------------------------------------------


def test_admin_tests_a_provider_and_gets_the_check_result(admin_client, sim_provider):
    provider = sim_provider("/open/v1")

    response = admin_client.post(f"/api/providers/{provider.pk}/test", {}, format="json")

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == CHECK_RESULT_FIELDS
    assert body == {
        **body,
        "provider_id": provider.pk, "ok": True, "status": "pass", "error_code": None, "error_message": None,
        "http_status": 200, "model": "gpt-4o-mini", "deep": False, "provider_status": "active",
    }
    assert isinstance(body["latency_ms"], int)
    assert is_iso_z(body["checked_at"])
    assert AuditEvent.objects.filter(event="provider.tested", provider_id=provider.pk, actor_name="alice").count() == 1


def test_a_failed_check_is_still_200_with_its_reason(admin_client, sim_provider):
    provider = sim_provider("/fail/hang/v1", timeout_ms=200)

    body = admin_client.post(f"/api/providers/{provider.pk}/test", {"deep": False}, format="json").json()

    assert (body["ok"], body["status"], body["error_code"], body["provider_status"]) == (False, "fail", "timeout", "unreachable")
    assert "200 ms" in body["error_message"]


def test_deep_runs_the_completion(admin_client, sim_provider, simulator):
    provider = sim_provider("/open/v1")

    body = admin_client.post(f"/api/providers/{provider.pk}/test", {"deep": True}, format="json").json()

    assert body["deep"] is True and body["ok"] is True
    assert simulator.recorded[-1].path == "/open/v1/chat/completions"


@pytest.mark.parametrize("payload", [{"deep": True, "fast": True}, {"deep": "yes"}, [1, 2]])
def test_a_bad_test_body_is_400(admin_client, sim_provider, simulator, payload):
    provider = sim_provider("/open/v1")

    response = admin_client.post(f"/api/providers/{provider.pk}/test", payload, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert simulator.recorded == []


def test_an_archived_provider_is_not_tested(admin_client, sim_provider):
    provider = sim_provider("/open/v1", archived_at=timezone.now())
    response = admin_client.post(f"/api/providers/{provider.pk}/test", {}, format="json")
    assert response.status_code == HTTPStatus.CONFLICT


@pytest.mark.parametrize(
    ("client_name", "expected"),
    [("viewer_client", HTTPStatus.FORBIDDEN), ("outsider_client", HTTPStatus.NOT_FOUND), ("anon_client", HTTPStatus.UNAUTHORIZED)],
)
def test_only_admins_may_test(request, sim_provider, simulator, client_name, expected):
    provider = sim_provider("/open/v1")

    response = request.getfixturevalue(client_name).post(f"/api/providers/{provider.pk}/test", {}, format="json")

    assert response.status_code == expected
    assert response["Cache-Control"] == "no-store"
    assert simulator.recorded == []
    assert not HealthCheck.objects.exists()


def test_an_unknown_provider_is_404(admin_client):
    assert admin_client.post("/api/providers/nope/test", {}, format="json").status_code == HTTPStatus.NOT_FOUND


def test_a_user_granted_test_on_one_provider_may_test_it(outsider_user, outsider_client, sim_provider):
    mine, other = sim_provider("/open/v1"), sim_provider("/open/v1")
    assign_perm("providers.test_provider", outsider_user, mine)
    assign_perm("providers.view_provider", outsider_user, mine)

    assert outsider_client.post(f"/api/providers/{mine.pk}/test", {}, format="json").status_code == HTTPStatus.OK
    assert outsider_client.post(f"/api/providers/{other.pk}/test", {}, format="json").status_code == HTTPStatus.NOT_FOUND


# --- POST /api/providers/test-all ----------------------------------------------------------------


def test_test_all_probes_every_enabled_provider(admin_client, sim_provider):
    good, bad = sim_provider("/open/v1", priority=1), sim_provider("/fail/500/v1", priority=2)
    sim_provider("/open/v1", enabled=False, status=Status.DISABLED)
    sim_provider("/open/v1", archived_at=timezone.now())

    response = admin_client.post("/api/providers/test-all", {}, format="json")

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert (body["checked"], body["passed"], body["failed"]) == (2, 1, 1)
    assert isinstance(body["duration_ms"], int)
    assert [r["provider_id"] for r in body["results"]] == [good.pk, bad.pk]
    assert all(set(r) == CHECK_RESULT_FIELDS for r in body["results"])


def test_test_all_can_include_disabled_and_pick_providers(admin_client, sim_provider):
    first, second = sim_provider("/open/v1"), sim_provider("/open/v1", enabled=False, status=Status.DISABLED)
    sim_provider("/open/v1")

    body = admin_client.post(
        "/api/providers/test-all", {"include_disabled": True, "provider_ids": [first.pk, second.pk]}, format="json"
    ).json()

    assert sorted(r["provider_id"] for r in body["results"]) == sorted([first.pk, second.pk])
    assert Status.DISABLED in {r["provider_status"] for r in body["results"]}


@pytest.mark.parametrize(
    "payload", [{"include_disabled": True, "extra": 1}, {"provider_ids": ["nope"]}, {"provider_ids": "abc"}, {"include_disabled": 1}]
)
def test_a_bad_test_all_body_is_400(admin_client, sim_provider, payload):
    sim_provider("/open/v1")
    assert admin_client.post("/api/providers/test-all", payload, format="json").status_code == HTTPStatus.BAD_REQUEST
    assert not HealthCheck.objects.exists()


@pytest.mark.parametrize(
    ("client_name", "expected"),
    [("viewer_client", HTTPStatus.FORBIDDEN), ("outsider_client", HTTPStatus.FORBIDDEN), ("anon_client", HTTPStatus.UNAUTHORIZED)],
)
def test_only_admins_may_test_all(request, sim_provider, client_name, expected):
    sim_provider("/open/v1")
    response = request.getfixturevalue(client_name).post("/api/providers/test-all", {}, format="json")
    assert response.status_code == expected
    assert not HealthCheck.objects.exists()


# --- GET history and metrics -------------------------------------------------------------------


@pytest.fixture
def checked_provider(provider_factory):
    provider = provider_factory()
    now = timezone.now()
    HealthCheck.objects.bulk_create(
        HealthCheck(
            provider=provider, checked_at=now - timedelta(seconds=10 * i), ok=i % 3 != 0, latency_ms=100 + i,
            error_code=None if i % 3 else "server_error", provider_status="active",
        )
        for i in range(1, 8)
    )
    return provider


def test_history_is_paginated_newest_first(viewer_client, checked_provider):
    response = viewer_client.get(f"/api/providers/{checked_provider.pk}/history?page_size=3")

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["count"] == 7 and body["next"] and body["previous"] is None
    assert [r["latency_ms"] for r in body["results"]] == [101, 102, 103]
    assert body["results"][2]["status"] == "fail" and body["results"][2]["error_code"] == "server_error"
    assert all(set(r) == CHECK_RESULT_FIELDS and is_iso_z(r["checked_at"]) for r in body["results"])

    page3 = viewer_client.get(f"/api/providers/{checked_provider.pk}/history?page_size=3&page=3").json()
    assert [r["latency_ms"] for r in page3["results"]] == [107]


def test_history_query_count_is_fixed(viewer_client, checked_provider, django_assert_max_num_queries):
    # user and groups/permissions, the provider, the page count, the page rows
    with django_assert_max_num_queries(6):
        viewer_client.get(f"/api/providers/{checked_provider.pk}/history?page_size=100")


def test_metrics_has_the_health_fields_and_an_hour_of_buckets(viewer_client, checked_provider):
    response = viewer_client.get(f"/api/providers/{checked_provider.pk}/metrics")

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"provider_id", "series", *(f for f in (
        "latency_ms_last", "latency_ms_avg_5m", "latency_ms_p95_5m", "success_rate_5m",
        "failure_count_last_1m", "last_checked_at", "last_error_code", "last_error_message"))}
    assert body["provider_id"] == checked_provider.pk
    assert body["latency_ms_last"] == 101
    assert body["failure_count_last_1m"] == 1  # 30 s ago; the one 60 s ago is out of the minute
    assert body["success_rate_5m"] == round(5 / 7, 4)
    assert is_iso_z(body["last_checked_at"])
    assert len(body["series"]) == 60
    assert set(body["series"][0]) == {"start", "checks", "failures", "latency_ms_avg", "latency_ms_p95"}
    assert all(is_iso_z(b["start"]) for b in body["series"])
    assert sum(b["checks"] for b in body["series"]) == 7


def test_metrics_of_a_provider_never_checked_are_null(viewer_client, provider_factory):
    body = viewer_client.get(f"/api/providers/{provider_factory().pk}/metrics").json()
    assert body["last_checked_at"] is None and body["latency_ms_last"] is None
    assert sum(b["checks"] for b in body["series"]) == 0


@pytest.mark.parametrize("path", ["history", "metrics"])
@pytest.mark.parametrize(
    ("client_name", "expected"),
    [("admin_client", HTTPStatus.OK), ("viewer_client", HTTPStatus.OK),
     ("outsider_client", HTTPStatus.NOT_FOUND), ("anon_client", HTTPStatus.UNAUTHORIZED)],
)
def test_reads_are_for_anyone_who_may_view_the_provider(request, checked_provider, path, client_name, expected):
    response = request.getfixturevalue(client_name).get(f"/api/providers/{checked_provider.pk}/{path}")
    assert response.status_code == expected


def test_reads_of_an_unknown_provider_are_404(viewer_client):
    assert viewer_client.get("/api/providers/nope/history").status_code == HTTPStatus.NOT_FOUND
    assert viewer_client.get("/api/providers/nope/metrics").status_code == HTTPStatus.NOT_FOUND


def test_unsafe_methods_on_reads_are_refused(admin_client, checked_provider):
    assert admin_client.post(f"/api/providers/{checked_provider.pk}/history", {}).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert admin_client.get(f"/api/providers/{checked_provider.pk}/test").status_code == HTTPStatus.METHOD_NOT_ALLOWED


# --- the credential cache follows secret actions at once (spec §7) -------------------------------


def test_a_rotated_secret_is_sent_by_the_very_next_test(admin_client, sim_provider, simulator, store_secret):
    provider = sim_provider("/open/v1", secret_policy="required")
    store_secret(provider, "sk-first-value")
    admin_client.post(f"/api/providers/{provider.pk}/test", {}, format="json")

    store_secret(provider, "sk-second-value", action="rotate")
    body = admin_client.post(f"/api/providers/{provider.pk}/test", {}, format="json").json()

    assert body["ok"] is True
    assert [r.authorization for r in simulator.recorded] == ["Bearer sk-first-value", "Bearer sk-second-value"]


def test_a_cleared_secret_is_missing_at_the_very_next_test(admin_client, sim_provider, simulator, store_secret):
    provider = sim_provider("/open/v1", secret_policy="required")
    store_secret(provider, "sk-first-value")
    admin_client.post(f"/api/providers/{provider.pk}/test", {}, format="json")

    response = admin_client.post(f"/api/providers/{provider.pk}/secret", {"action": "clear"}, format="json")
    assert response.status_code == HTTPStatus.OK
    body = admin_client.post(f"/api/providers/{provider.pk}/test", {}, format="json").json()

    assert body["error_code"] == "missing_secret"
    assert len(simulator.recorded) == 1


def test_no_secret_reaches_the_check_result_or_the_events(admin_client, sim_provider, store_secret):
    provider = sim_provider("/openai/v1", secret_policy="required")
    store_secret(provider, "sk-canary-0123456789")

    response = admin_client.post(f"/api/providers/{provider.pk}/test", {}, format="json")

    assert "sk-canary-0123456789" not in response.content.decode()
    assert not any("sk-canary" in str(e.payload) + e.summary for e in AuditEvent.objects.all())
