"""The provider API through the real URLs and client (API.md, spec §3.1, §4.1, §4.2)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import AuditEvent
from providers.models import Provider

pytestmark = pytest.mark.django_db

NEW = {
    "id": "openai-prod",
    "name": "openai-prod",
    "display_name": "OpenAI (production)",
    "kind": "openai_compatible",
    "endpoint": "https://api.example.com/v1",
    "default_model": "gpt-4o-mini",
    "fallback_models": ["gpt-4o"],
    "priority": 10,
    "capabilities": {"tools": True, "max_context": 128000},
    "metadata": {"region": "us-east"},
}

PROVIDER_KEYS = {
    "id", "name", "display_name", "kind", "endpoint", "default_model", "fallback_models", "status",
    "status_reason", "enabled", "priority", "capabilities", "secret_policy", "secret_required",
    "secret_present", "secret_last_rotated_at", "secret_touched_by", "secret_touched_at",
    "secret_id_hint", "retries", "timeout_ms", "tool_timeout_ms", "metadata", "routing_intent",
    "health", "version", "archived_at", "created_at", "updated_at",
}


def events_for(provider_id):
    return list(AuditEvent.objects.filter(provider_id=provider_id).order_by("id").values_list("event", flat=True))


def test_create_returns_the_whole_provider_object_and_writes_one_audit_row(admin_client):
    response = admin_client.post("/api/providers", NEW, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    body = response.json()
    assert set(body) == PROVIDER_KEYS
    assert body["status"] == "active"
    assert body["enabled"] is True
    assert body["secret_policy"] == "required" and body["secret_required"] is True
    assert body["secret_present"] is False
    assert body["version"] == 1
    # First in the chain, but it needs a secret it does not have yet: it serves nothing.
    assert body["routing_intent"] == {
        "role": "excluded", "position": 1, "targets": ["gpt-4o-mini", "gpt-4o"], "next_provider_id": None,
    }
    assert body["health"]["last_checked_at"] is None
    assert body["metadata"] == {"region": "us-east"}
    assert body["created_at"].endswith("Z")
    assert response["Cache-Control"] == "no-store"
    assert response["ETag"] == '"1"'
    assert events_for("openai-prod") == ["provider.created"]


@pytest.mark.parametrize(
    "kind, policy",
    [("openai_compatible", "required"), ("ollama", "none"), ("llama_cpp", "none"), ("other", "optional")],
)
def test_secret_policy_defaults_by_kind(admin_client, kind, policy):
    response = admin_client.post("/api/providers", {**NEW, "kind": kind}, format="json")
    assert response.json()["secret_policy"] == policy


def test_create_with_an_explicit_secret_policy_keeps_it(admin_client):
    response = admin_client.post("/api/providers", {**NEW, "kind": "ollama", "secret_policy": "optional"}, format="json")
    assert response.json()["secret_policy"] == "optional"


def test_duplicate_id_or_name_is_a_conflict(admin_client, provider_factory):
    provider_factory(id="taken", name="taken-name")
    same_id = admin_client.post("/api/providers", {**NEW, "id": "taken"}, format="json")
    same_name = admin_client.post("/api/providers", {**NEW, "name": "taken-name"}, format="json")
    assert same_id.status_code == HTTPStatus.CONFLICT and "id" in same_id.json()
    assert same_name.status_code == HTTPStatus.CONFLICT and "name" in same_name.json()
    assert Provider.objects.count() == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"id": "Bad Id"}, "id"),
        ({"id": "-starts-with-dash"}, "id"),
        ({"id": "x" * 64}, "id"),
        ({"name": ""}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"display_name": "d" * 201}, "display_name"),
        ({"kind": "azure"}, "kind"),
        ({"endpoint": "ftp://example.com"}, "endpoint"),
        ({"endpoint": "not a url"}, "endpoint"),
        ({"endpoint": "https://user:pw@example.com/v1"}, "endpoint"),
        ({"endpoint": 42}, "endpoint"),
        ({"default_model": ""}, "default_model"),
        ({"default_model": "m" * 201}, "default_model"),
        ({"fallback_models": "gpt-4o"}, "fallback_models"),
        ({"fallback_models": ["a", "a"]}, "fallback_models"),
        ({"fallback_models": ["gpt-4o-mini"]}, "fallback_models"),
        ({"fallback_models": [1, 2]}, "fallback_models"),
        ({"fallback_models": [f"m{i}" for i in range(21)]}, "fallback_models"),
        ({"status": "degraded"}, "status"),
        ({"status": "unreachable"}, "status"),
        ({"status": "disabled", "enabled": True}, "enabled"),
        ({"enabled": "maybe"}, "enabled"),
        ({"priority": -1}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"priority": 1.5}, "priority"),
        ({"priority": 10**7}, "priority"),
        ({"retries": -1}, "retries"),
        ({"retries": 11}, "retries"),
        ({"timeout_ms": 0}, "timeout_ms"),
        ({"timeout_ms": 10**9}, "timeout_ms"),
        ({"tool_timeout_ms": -5}, "tool_timeout_ms"),
        ({"capabilities": ["tools"]}, "capabilities"),
        ({"capabilities": {"blob": "x" * 9000}}, "capabilities"),
        ({"metadata": "region=us"}, "metadata"),
        ({"metadata": {"api_key": "sk-live"}}, "metadata"),
        ({"metadata": {"AuthHeader": "x"}}, "metadata"),
        ({"metadata": {"nested": {"a": 1}}}, "metadata"),
        ({"metadata": {f"k{i}": i for i in range(51)}}, "metadata"),
        ({"secret_policy": "sometimes"}, "secret_policy"),
        ({"surprise": 1}, "surprise"),
        ({"version": 3}, "version"),
        ({"secret_present": True}, "secret_present"),
    ],
)
def test_invalid_create_is_400_naming_the_field_and_saves_nothing(admin_client, change, field):
    response = admin_client.post("/api/providers", {**NEW, **change}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert field in response.json(), response.json()
    assert Provider.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_credential_shaped_metadata_points_to_the_secret_action(admin_client):
    response = admin_client.post("/api/providers", {**NEW, "metadata": {"password": "x"}}, format="json")
    assert "Secret action" in response.json()["metadata"][0]


@pytest.mark.parametrize("missing", ["id", "name", "kind", "endpoint", "default_model"])
def test_required_fields_on_create(admin_client, missing):
    body = {k: v for k, v in NEW.items() if k != missing}
    response = admin_client.post("/api/providers", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert missing in response.json()


@pytest.mark.parametrize("raw", ['{"id": ', "[1, 2]", '"just a string"', "null"])
def test_malformed_or_non_object_json_is_400(admin_client, raw):
    response = admin_client.post("/api/providers", raw, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()


def test_patch_changes_fields_bumps_version_and_audits_before_after(admin_client, provider_factory):
    provider = provider_factory(id="p1", priority=10)
    response = admin_client.patch("/api/providers/p1", {"priority": 25, "display_name": "P One"}, format="json")
    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json()["priority"] == 25
    assert response.json()["version"] == provider.version + 1
    assert response["ETag"] == f'"{provider.version + 1}"'
    event = AuditEvent.objects.get(provider_id="p1")
    assert event.event == "provider.updated"
    assert event.actor.username == "alice"
    assert event.payload["changes"]["priority"] == {"before": 10, "after": 25}
    assert event.request_id


def test_patch_without_a_real_change_writes_nothing(admin_client, provider_factory):
    provider_factory(id="p1", priority=10)
    response = admin_client.patch("/api/providers/p1", {"priority": 10}, format="json")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["version"] == 1
    assert AuditEvent.objects.count() == 0


def test_patch_rejects_changing_the_id_and_unknown_fields(admin_client, provider_factory):
    provider_factory(id="p1")
    assert admin_client.patch("/api/providers/p1", {"id": "p2"}, format="json").status_code == 400
    response = admin_client.patch("/api/providers/p1", {"colour": "red"}, format="json")
    assert response.status_code == 400 and response.json() == {"colour": ["Unknown field."]}
    assert Provider.objects.get().id == "p1"


def test_patch_to_a_taken_name_is_a_conflict(admin_client, provider_factory):
    provider_factory(id="a", name="alpha")
    provider_factory(id="b", name="beta")
    response = admin_client.patch("/api/providers/b", {"name": "alpha"}, format="json")
    assert response.status_code == HTTPStatus.CONFLICT


def test_fallbacks_may_not_repeat_a_new_default_model(admin_client, provider_factory):
    provider_factory(id="p1", default_model="a", fallback_models=["b"])
    response = admin_client.patch("/api/providers/p1", {"default_model": "b"}, format="json")
    assert response.status_code == 400 and "fallback_models" in response.json()


def test_if_match_with_a_stale_version_is_412_and_changes_nothing(admin_client, provider_factory):
    provider_factory(id="p1", priority=10)
    stale = admin_client.patch("/api/providers/p1", {"priority": 11}, format="json", HTTP_IF_MATCH='"7"')
    assert stale.status_code == HTTPStatus.PRECONDITION_FAILED
    assert Provider.objects.get().priority == 10
    fresh = admin_client.patch("/api/providers/p1", {"priority": 11}, format="json", HTTP_IF_MATCH='"1"')
    assert fresh.status_code == HTTPStatus.OK
    again = admin_client.patch("/api/providers/p1", {"priority": 12}, format="json", HTTP_IF_MATCH='"1"')
    assert again.status_code == HTTPStatus.PRECONDITION_FAILED


def test_detail_carries_the_etag(viewer_client, provider_factory):
    provider_factory(id="p1")
    response = viewer_client.get("/api/providers/p1")
    assert response["ETag"] == '"1"'
    assert response["Cache-Control"] == "no-store"


def test_disabling_sets_enabled_false_and_writes_state_changed(admin_client, provider_factory):
    provider_factory(id="p1")
    response = admin_client.patch("/api/providers/p1", {"status": "disabled"}, format="json")
    body = response.json()
    assert (body["status"], body["enabled"]) == ("disabled", False)
    assert body["status_reason"].startswith("set by alice at ")
    assert events_for("p1") == ["provider.updated", "provider.state_changed"]
    state = AuditEvent.objects.get(event="provider.state_changed")
    assert (state.payload["before"], state.payload["after"]) == ("active", "disabled")


def test_enabling_again_restores_the_operators_tier(admin_client, provider_factory):
    provider_factory(id="p1")
    admin_client.patch("/api/providers/p1", {"status": "standby"}, format="json")
    admin_client.patch("/api/providers/p1", {"enabled": False}, format="json")
    body = admin_client.patch("/api/providers/p1", {"enabled": True}, format="json").json()
    assert (body["status"], body["enabled"]) == ("standby", True)


def test_archive_and_restore(admin_client, viewer_client, provider_factory):
    provider_factory(id="p1")
    archived = admin_client.delete("/api/providers/p1")
    assert archived.status_code == HTTPStatus.OK
    assert archived.json()["archived_at"] is not None
    assert archived.json()["routing_intent"]["role"] == "excluded"
    assert viewer_client.get("/api/providers").json()["count"] == 0
    assert viewer_client.get("/api/providers?include_archived=true").json()["count"] == 1
    assert viewer_client.get("/api/providers/p1").status_code == HTTPStatus.OK
    restored = admin_client.post("/api/providers/p1/restore")
    assert restored.status_code == HTTPStatus.OK
    assert restored.json()["archived_at"] is None
    assert events_for("p1") == ["provider.archived", "provider.restored"]
    assert Provider.objects.filter(id="p1").exists()


def test_metadata_values_are_masked_for_viewers(admin_client, viewer_client, provider_factory):
    provider_factory(id="p1", metadata={"region": "us-east", "team": "ml"})
    assert admin_client.get("/api/providers/p1").json()["metadata"] == {"region": "us-east", "team": "ml"}
    assert viewer_client.get("/api/providers/p1").json()["metadata"] == {"region": "***", "team": "***"}
    listed = viewer_client.get("/api/providers").json()["results"][0]
    assert listed["metadata"] == {"region": "***", "team": "***"}


def test_unknown_provider_is_404(viewer_client):
    assert viewer_client.get("/api/providers/nope").status_code == HTTPStatus.NOT_FOUND


# --- list: filters, ordering, pagination ---------------------------------------------


def ids(response):
    assert response.status_code == HTTPStatus.OK, response.content
    return [item["id"] for item in response.json()["results"]]


def test_list_is_paginated_and_ordered_by_priority(viewer_client, provider_factory):
    for i, priority in enumerate([30, 10, 20]):
        provider_factory(id=f"p{i}", priority=priority)
    response = viewer_client.get("/api/providers?page_size=2")
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3 and body["next"] and body["previous"] is None
    assert ids(response) == ["p1", "p2"]
    assert ids(viewer_client.get("/api/providers?page_size=2&page=2")) == ["p0"]
    assert response["Cache-Control"] == "no-store"


def test_page_size_is_capped_at_1000(viewer_client, provider_factory):
    provider_factory(id="p1")
    assert viewer_client.get("/api/providers?page_size=5000").status_code == HTTPStatus.OK


def test_filters_by_kind_status_and_search(viewer_client, provider_factory):
    provider_factory(id="cloud", kind="openai_compatible", display_name="Cloud East")
    provider_factory(id="local", kind="ollama", endpoint="http://10.0.0.5:11434", default_model="llama3")
    provider_factory(id="spare", kind="ollama", status="standby", tier="standby", default_model="llama3")
    assert ids(viewer_client.get("/api/providers?kind=ollama")) == ["local", "spare"]
    assert ids(viewer_client.get("/api/providers?status=standby")) == ["spare"]
    assert ids(viewer_client.get("/api/providers?search=east")) == ["cloud"]
    assert ids(viewer_client.get("/api/providers?search=10.0.0.5")) == ["local"]


@pytest.mark.parametrize(
    "query", ["kind=azure", "status=sleepy", "secret=maybe", "health=fine", "ordering=colour", "include_archived=perhaps"]
)
def test_bad_filter_values_are_400(viewer_client, query):
    response = viewer_client.get(f"/api/providers?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert query.split("=")[0] in response.json()


def test_ordering_by_name_and_reversed_priority(viewer_client, provider_factory):
    provider_factory(id="b", priority=1)
    provider_factory(id="a", priority=2)
    provider_factory(id="c", priority=3)
    assert ids(viewer_client.get("/api/providers?ordering=name")) == ["a", "b", "c"]
    assert ids(viewer_client.get("/api/providers?ordering=-priority")) == ["c", "a", "b"]


def list_queries() -> int:
    """2 the viewer's user and group permissions · 1 count · 1 the page · 1 every provider for
    the routing chain · 1 secret projections · health: 1 latest check, 1 five-minute window
    (with p95 on PostgreSQL) and, elsewhere, 1 for the latencies p95 is taken from · 1 guardian:
    the providers delegated to the viewer, whose metadata values it may read."""
    return 9 if connection.vendor == "postgresql" else 10


def list_as_fresh_viewer(viewer_user):
    """A new request with a freshly loaded user: no permission cache carried over.

    Content types are cached per process (Django's and guardian's caches), so one request
    warms them first, as any running site has.
    """
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=viewer_user.pk))
    client.get("/api/providers")
    client.force_authenticate(get_user_model().objects.get(pk=viewer_user.pk))
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/providers?page_size=100")
    assert response.status_code == 200
    return response, queries


def test_list_query_count_does_not_grow_with_providers(viewer_user, provider_factory):
    provider_factory(id="first")
    _, one = list_as_fresh_viewer(viewer_user)
    for i in range(25):
        provider_factory(id=f"more-{i}")
    response, many = list_as_fresh_viewer(viewer_user)
    assert response.json()["count"] == 26
    assert len(one) == list_queries(), "\n".join(q["sql"][:120] for q in one.captured_queries)
    assert len(many) == list_queries(), "\n".join(q["sql"][:120] for q in many.captured_queries)


@pytest.mark.parametrize(
    "method, path, body, expected",
    [
        ("post", "/api/providers", NEW, ["provider.created"]),
        ("patch", "/api/providers/p1", {"priority": 77}, ["provider.updated"]),
        ("patch", "/api/providers/p1", {"status": "standby"}, ["provider.updated", "provider.state_changed"]),
        ("delete", "/api/providers/p1", None, ["provider.archived"]),
    ],
)
def test_each_mutation_writes_exactly_its_audit_rows(admin_client, provider_factory, method, path, body, expected):
    provider_factory(id="p1")
    response = getattr(admin_client, method)(path, body, format="json")
    assert response.status_code in (200, 201)
    assert list(AuditEvent.objects.order_by("id").values_list("event", flat=True)) == expected


def test_a_failing_audit_write_leaves_the_provider_unchanged(admin_client, provider_factory, monkeypatch):
    provider_factory(id="p1", priority=10)

    def broken(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("providers.services.record_event", broken)
    admin_client.raise_request_exception = False
    response = admin_client.patch("/api/providers/p1", {"priority": 20}, format="json")
    assert response.status_code == 500
    provider = Provider.objects.get(pk="p1")
    assert (provider.priority, provider.version) == (10, 1)
