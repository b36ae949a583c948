"""`GET /api/config` and `POST /api/config[?dry_run=1]` through the Django client (API.md,
"Operations"; docs/configuration-as-code.md)."""

from __future__ import annotations

import copy

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from providers.models import Provider
from providers.tests.factories import ProviderFactory
from secrets_vault.services import clear_secret, set_secret

pytestmark = pytest.mark.django_db

URL = "/api/config"
CANARY = "sk-config-api-canary-41d7"


@pytest.fixture
def fleet(db):
    """a (needs a secret, holds the canary), b and c (Ollama): the chain a* → b → c."""
    a = ProviderFactory(id="a", priority=10)
    b = ProviderFactory(id="b", priority=20, kind="ollama", endpoint="http://127.0.0.1:11435", default_model="llama3",
                        fallback_models=[])
    c = ProviderFactory(id="c", priority=30, kind="ollama", endpoint="http://127.0.0.1:11436", default_model="llama3",
                        fallback_models=[])
    set_secret(a, CANARY)
    return a, b, c


def snapshot():
    return [list(Provider.objects.order_by("id").values_list()), AuditEvent.objects.count()]


def get_config(client):
    response = client.get(URL)
    assert response.status_code == 200, response.content
    return response


def test_get_lists_live_providers_with_the_version_as_etag(admin_client, fleet):
    ProviderFactory(id="archived-one", archived_at="2026-01-01T00:00:00Z")
    response = get_config(admin_client)
    body = response.json()
    assert list(body) == ["version", "providers"]
    assert response["ETag"] == f'"{body["version"]}"'
    assert response["Cache-Control"] == "no-store"
    assert [p["id"] for p in body["providers"]] == ["a", "b", "c"]
    assert [p["secret_present"] for p in body["providers"]] == [True, False, False]
    assert CANARY not in response.content.decode()


def test_the_version_is_stable_and_changes_with_any_exported_field(admin_client, fleet):
    first = get_config(admin_client).json()["version"]
    assert get_config(admin_client).json()["version"] == first
    Provider.objects.filter(id="b").update(retries=5)
    second = get_config(admin_client).json()["version"]
    assert second != first
    clear_secret(Provider.objects.get(id="a"))  # secret_present flips
    assert get_config(admin_client).json()["version"] != second


def test_get_costs_the_same_queries_at_any_fleet_size(admin_client, db):
    get_config(admin_client)  # the user's permissions, loaded once per user object

    def queries(n: int) -> int:
        for i in range(n):
            ProviderFactory(id=f"q{Provider.objects.count()}-{i}")
        with CaptureQueriesContext(connection) as captured:
            get_config(admin_client)
        return len(captured)

    assert queries(2) == queries(40) == 2  # the live providers, the ids holding a secret


def test_roles(viewer_client, anon_client, outsider_client, fleet):
    assert anon_client.get(URL).status_code == 401
    assert viewer_client.get(URL).status_code == 403
    assert outsider_client.get(URL).status_code == 403
    body = {"providers": []}
    assert anon_client.post(URL, body, format="json").status_code == 401
    assert viewer_client.post(URL, body, format="json").status_code == 403
    assert viewer_client.post(URL + "?dry_run=1", body, format="json").status_code == 403


def test_round_trip_is_all_unchanged(admin_client, fleet):
    config = get_config(admin_client).json()
    before = snapshot()
    response = admin_client.post(URL, config, format="json", HTTP_IF_MATCH=f'"{config["version"]}"')
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["applied"] is True and body["version"] == config["version"]
    assert [(c["provider_id"], c["action"], c["fields"]) for c in body["changes"]] == [
        ("a", "unchanged", {}), ("b", "unchanged", {}), ("c", "unchanged", {}),
    ]
    assert body["chain_before"] == body["chain_after"] == ["a", "b", "c"]
    assert snapshot() == before


def test_create_update_prune_with_diff_chain_and_audit(admin_client, admin_user, fleet):
    config = get_config(admin_client).json()
    providers = config["providers"]
    providers[2]["priority"] = 1  # c first
    del providers[0]  # a, pruned
    providers.append({"id": "d", "name": "d", "kind": "ollama", "endpoint": "http://127.0.0.1:11437",
                      "default_model": "qwen", "priority": 50})
    response = admin_client.post(URL, {"providers": providers, "prune": True}, format="json",
                                 HTTP_IF_MATCH=f'"{config["version"]}"')
    assert response.status_code == 200, response.content
    body = response.json()
    changes = {c["provider_id"]: c for c in body["changes"]}
    assert [c["provider_id"] for c in body["changes"]] == ["b", "c", "d", "a"]
    assert changes["b"]["action"] == "unchanged"
    assert changes["c"] == {"provider_id": "c", "action": "update", "fields": {"priority": [30, 1]}}
    assert changes["d"]["action"] == "create" and changes["d"]["fields"]["default_model"] == [None, "qwen"]
    assert changes["a"] == {"provider_id": "a", "action": "archive", "fields": {}}
    assert body["chain_before"] == ["a", "b", "c"] and body["serving_before"] == "a"
    assert body["chain_after"] == ["c", "b", "d"] and body["serving_after"] == "c"
    assert body["applied"] is True and body["version"] == get_config(admin_client).json()["version"]
    assert response["ETag"] == f'"{body["version"]}"'
    events = AuditEvent.objects.filter(event__in=["provider.created", "provider.updated", "provider.archived"])
    assert sorted((e.event, e.provider_id, e.actor_name) for e in events) == [
        ("provider.archived", "a", "alice"), ("provider.created", "d", "alice"), ("provider.updated", "c", "alice"),
    ]
    assert all(e.actor_id == admin_user.id for e in events)


def test_dry_run_reports_the_same_and_changes_nothing(admin_client, fleet):
    config = get_config(admin_client).json()
    providers = copy.deepcopy(config["providers"])
    providers[1]["name"] = "bee"
    providers.append({"id": "d", "name": "d", "kind": "ollama", "endpoint": "http://127.0.0.1:1", "default_model": "m"})
    body = {"providers": providers[1:], "prune": True}
    before = snapshot()
    dry = admin_client.post(URL + "?dry_run=1", body, format="json")
    assert dry.status_code == 200, dry.content
    assert snapshot() == before
    assert dry.json()["applied"] is False and dry.json()["version"] == config["version"]
    assert get_config(admin_client).json() == config
    applied = admin_client.post(URL, body, format="json").json()
    assert {k: v for k, v in dry.json().items() if k not in ("applied", "version")} == {
        k: v for k, v in applied.items() if k not in ("applied", "version")
    }
    assert [c["action"] for c in applied["changes"]] == ["update", "unchanged", "create", "archive"]


def test_dry_run_flag_values(admin_client, fleet):
    body = {"providers": get_config(admin_client).json()["providers"]}
    assert admin_client.post(URL + "?dry_run=true", body, format="json").json()["applied"] is False
    assert admin_client.post(URL + "?dry_run=0", body, format="json").json()["applied"] is True
    bad = admin_client.post(URL + "?dry_run=perhaps", body, format="json")
    assert bad.status_code == 400 and "dry_run" in bad.json()


def test_stale_if_match_is_412_and_applies_nothing(admin_client, fleet):
    config = get_config(admin_client).json()
    Provider.objects.filter(id="c").update(priority=31)  # someone else changed the fleet since
    providers = config["providers"]
    providers[1]["priority"] = 2
    before = snapshot()
    for url in (URL, URL + "?dry_run=1"):
        response = admin_client.post(url, {"providers": providers}, format="json", HTTP_IF_MATCH=f'"{config["version"]}"')
        assert response.status_code == 412
        assert list(response.json()) == ["detail"] and "changed since you read it" in response.json()["detail"]
    assert snapshot() == before
    # `*`, or no If-Match at all (as the provider API's PATCH), applies whatever the version.
    assert admin_client.post(URL, {"providers": providers}, format="json", HTTP_IF_MATCH="*").status_code == 200
    assert Provider.objects.get(id="b").priority == 2


def test_the_second_of_three_invalid_is_400_naming_it_and_nothing_is_applied(admin_client, fleet):
    config = get_config(admin_client).json()
    providers = config["providers"]
    providers[0]["priority"] = 1
    providers[1]["kind"] = "telepathy"
    providers[2]["priority"] = 2
    before = snapshot()
    response = admin_client.post(URL, {"providers": providers}, format="json")
    assert response.status_code == 400
    assert response.json() == {"providers": {"b": {"kind": ['"telepathy" is not a valid choice.']}}}
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, {"providers": ["This field is required."]}),
        ([], {"providers": ["Expected an object with a list of providers under \"providers\"."]}),
        ({"providers": {}}, {"providers": ["Expected a list of providers."]}),
        ({"providers": [], "prune": "yes"}, {"prune": ["Must be true or false."]}),
        ({"providers": [], "extra": 1}, {"extra": ["Unknown field."]}),
        ({"providers": [1]}, {"providers": {"#1": {"non_field_errors": ["Expected an object with the provider's fields."]}}}),
        ({"providers": [{"id": 7}]}, {"providers": {"#1": {"id": ["Must be the provider's id (text)."]}}}),
    ],
)
def test_malformed_bodies_are_400(admin_client, fleet, body, error):
    before = snapshot()
    response = admin_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json() == error
    assert snapshot() == before


def test_no_secret_in_any_answer(admin_client, fleet):
    config = get_config(admin_client).json()
    config["providers"][0]["endpoint"] = "https://moved.example.test/v1"  # re-binds a's secret
    for url in (URL + "?dry_run=1", URL):
        response = admin_client.post(url, config, format="json")
        assert response.status_code == 200
        assert CANARY not in response.content.decode()
    assert CANARY not in "".join(str(e.payload) + e.summary for e in AuditEvent.objects.all())


def test_a_change_refused_half_way_rolls_back_the_ones_before_it(admin_client, fleet):
    """b and c exchange names: valid as a whole, but b's rename meets c's current name after a's
    update was made; the transaction takes a's update back too."""
    providers = get_config(admin_client).json()["providers"]
    providers[0]["priority"] = 1
    providers[1]["name"], providers[2]["name"] = "c", "b"
    before = snapshot()
    response = admin_client.post(URL, {"providers": providers}, format="json")
    assert response.status_code == 400
    assert list(response.json()["providers"]) == ["b"] and "name" in response.json()["providers"]["b"]
    assert snapshot() == before


def test_if_match_accepts_weak_and_listed_tags(admin_client, fleet):
    config = get_config(admin_client).json()
    header = f'"stale", W/"{config["version"]}"'
    response = admin_client.post(URL + "?dry_run=1", config, format="json", HTTP_IF_MATCH=header)
    assert response.status_code == 200
    assert admin_client.post(URL + "?dry_run=1", config, format="json", HTTP_IF_MATCH='"stale"').status_code == 412
