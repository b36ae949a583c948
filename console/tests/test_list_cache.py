"""GET /api/providers answered again from console/listcache.py while nothing changed: every kind
of change is seen at once, each audience gets its own answer, and delegated users are never
served from it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from guardian.shortcuts import assign_perm

from conftest import make_user
from console import chaincache, listcache
from console.tests.test_list_page_queries import grow
from health.runner import ProbeOutcome, record_outcomes
from providers.models import Provider
from secrets_vault.services import clear_secret, set_secret

pytestmark = pytest.mark.django_db


def fresh(client, path: str = "/api/providers") -> dict:
    """The answer built from the database: both caches dropped first."""
    listcache.forget()
    chaincache.forget()
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def served(client, path: str = "/api/providers") -> dict:
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def outcome(provider_id: str, *, ok: bool, error: str | None = None) -> ProbeOutcome:
    return ProbeOutcome(
        provider_id=provider_id, ok=ok, error_code=error, error_message=error or "", latency_ms=150 if ok else None,
        http_status=200 if ok else None, model="gpt-4o-mini", deep=False, checked_at=timezone.now(),
    )


def test_an_unchanged_fleet_is_answered_with_the_version_query_alone(admin_client, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 12)
    first = served(admin_client)
    with CaptureQueriesContext(connection) as built:
        listcache.forget()
        assert served(admin_client) == first
    with CaptureQueriesContext(connection) as reused:
        assert served(admin_client) == first
    # Built: the permission check, the version, the count, the page, the vault, health, the chain.
    # Reused: the permission check and the version.
    assert len(reused) < len(built) - 4, [q["sql"][:80] for q in reused]
    assert any("MAX(" in q["sql"] for q in reused)


def test_every_kind_of_change_is_in_the_next_answer(admin_client, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 8)
    served(admin_client)  # kept
    steps = []

    def step(label: str) -> None:
        answer = served(admin_client)
        truth = fresh(admin_client)
        steps.append(label)
        assert answer == truth, label
        served(admin_client)  # kept again for the next step

    assert admin_client.patch("/api/providers/fleet-002", {"display_name": "Renamed"}, format="json").status_code == 200
    step("patch")
    assert served(admin_client)["results"][[p["id"] for p in served(admin_client)["results"]].index("fleet-002")]["display_name"] == "Renamed"
    assert admin_client.delete("/api/providers/fleet-000").status_code == 200
    step("archive")
    assert "fleet-000" not in [p["id"] for p in served(admin_client)["results"]]
    needy = Provider.objects.get(pk="fleet-005")
    set_secret(needy, "sk-list-cache-" + "k" * 24, actor=admin_user)
    step("secret set")
    clear_secret(needy, actor=admin_user)
    step("secret cleared")
    record_outcomes([Provider.objects.get(pk="fleet-001")], [outcome("fleet-001", ok=False, error="timeout")])
    step("check recorded")
    by_id = {p["id"]: p for p in served(admin_client)["results"]}
    assert by_id["fleet-001"]["status"] == "unreachable"
    assert by_id["fleet-001"]["health"]["last_error_code"] == "timeout"
    assert len(steps) == 5


def test_each_query_string_and_audience_has_its_own_answer(admin_client, viewer_client, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 6)
    Provider.objects.filter(pk="fleet-001").update(metadata={"region": "eu-west"})  # before anything is kept
    admin_all = served(admin_client)
    ollama = served(admin_client, "/api/providers?kind=ollama")
    assert {p["kind"] for p in ollama["results"]} == {"ollama"}
    assert ollama["count"] < admin_all["count"]
    viewer_all = served(viewer_client)
    admin_meta = {p["id"]: p["metadata"] for p in admin_all["results"]}
    viewer_meta = {p["id"]: p["metadata"] for p in viewer_client.get("/api/providers").json()["results"]}
    assert admin_meta["fleet-001"] == {"region": "eu-west"}
    assert viewer_meta["fleet-001"] == {"region": "***"}
    assert served(admin_client) == admin_all  # the viewer's answer did not replace the admin's
    assert viewer_all["count"] == admin_all["count"]


def test_a_delegated_user_is_always_answered_afresh(admin_client, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 4)
    delegate = make_user("dora", None)
    assign_perm("providers.view_provider", delegate, Provider.objects.get(pk="fleet-000"))
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(delegate)
    served(admin_client)
    assert [p["id"] for p in served(client)["results"]] == ["fleet-000"]
    # A permission granted moves no chain version; the next answer shows it all the same.
    assign_perm("providers.view_provider", delegate, Provider.objects.get(pk="fleet-002"))
    assert sorted(p["id"] for p in served(client)["results"]) == ["fleet-000", "fleet-002"]


def test_a_viewer_with_a_delegated_change_permission_is_answered_afresh(viewer_client, viewer_user, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 4)
    Provider.objects.filter(pk="fleet-001").update(metadata={"region": "eu-west"})
    by_id = {p["id"]: p for p in served(viewer_client)["results"]}
    assert by_id["fleet-001"]["metadata"] == {"region": "***"}
    assign_perm("providers.change_provider", viewer_user, Provider.objects.get(pk="fleet-001"))
    by_id = {p["id"]: p for p in served(viewer_client)["results"]}
    assert by_id["fleet-001"]["metadata"] == {"region": "eu-west"}


def test_answers_expire_with_the_clock(admin_client, admin_user, provider_factory, settings, monkeypatch):
    grow(provider_factory, admin_user, 0, 4)
    settings.PROVIDER_LIST_CACHE_SECONDS = 2.0
    clock = [1000.0]
    monkeypatch.setattr(listcache.time, "monotonic", lambda: clock[0])
    served(admin_client)
    with CaptureQueriesContext(connection) as reused:
        served(admin_client)
    clock[0] += 2.5
    with CaptureQueriesContext(connection) as rebuilt:
        served(admin_client)
    assert len(rebuilt) > len(reused)
    settings.PROVIDER_LIST_CACHE_SECONDS = 0
    with CaptureQueriesContext(connection) as off:
        served(admin_client)
    assert len(off) > len(reused)
