"""The routing chain computed once per change (console/chaincache.py): after every kind of change
the chain the responses serve is the chain `compute_chain` gives from the database, in this
process and in a fresh one; a response that names one provider costs the same number of queries
at any fleet size; an unchanged state is not computed again."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console import chaincache
from console.readmodel import routing_inputs
from console.tests.test_list_page_queries import grow
from health.models import HealthCheck
from health.runner import ProbeOutcome, record_outcomes
from providers import services
from providers.models import Provider
from providers.routing import compute_chain
from secrets_vault.services import clear_secret, set_secret

pytestmark = pytest.mark.django_db


def fresh_chain() -> dict:
    """The chain straight from the database, no cache involved."""
    return {**compute_chain(routing_inputs().values()).to_dict(), "computed_at": None}


def served_chain(client) -> dict:
    response = client.get("/api/routing-chain")
    assert response.status_code == HTTPStatus.OK
    return {**response.json(), "computed_at": None}


def intents(client, ids) -> dict:
    return {pid: client.get(f"/api/providers/{pid}").json()["routing_intent"] for pid in ids}


def expected_intents(ids) -> dict:
    chain = compute_chain(routing_inputs().values())
    return {pid: chain.routing_intent(pid, Provider.objects.get(pk=pid).models) for pid in ids}


def assert_served_is_fresh(client, ids=("fleet-000", "fleet-001", "fleet-004", "fleet-005")) -> dict:
    """This process's answers, then a fresh process's (the stored chain dropped), both equal
    the chain computed from the database."""
    truth = fresh_chain()
    assert served_chain(client) == truth
    assert intents(client, ids) == expected_intents(ids)
    chaincache.forget()  # another process, which never computed the chain
    assert served_chain(client) == truth
    assert intents(client, ids) == expected_intents(ids)
    return truth


def outcome(provider_id: str, *, ok: bool, error: str | None = None, at=None) -> ProbeOutcome:
    return ProbeOutcome(
        provider_id=provider_id, ok=ok, error_code=error, error_message=error or "", latency_ms=120 if ok else None,
        http_status=200 if ok else None, model="gpt-4o-mini", deep=False, checked_at=at or timezone.now(),
    )


def test_every_kind_of_change_reaches_the_chain_served(admin_client, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 8)
    before = assert_served_is_fresh(admin_client)
    changes = []

    def changed(label: str) -> None:
        now = assert_served_is_fresh(admin_client)
        changes.append((label, now != before))

    # An operator's PATCH moves a provider to the front.
    assert admin_client.patch("/api/providers/fleet-005", {"priority": 0}, format="json").status_code == 200
    changed("patch")
    before = fresh_chain()
    # Archiving takes one out.
    assert admin_client.delete("/api/providers/fleet-000").status_code == 200
    changed("archive")
    before = fresh_chain()
    # A new provider first in line.
    created = admin_client.post("/api/providers", {
        "id": "fresh-1", "name": "fresh-1", "kind": "ollama", "endpoint": "http://fresh.example.test:11434/v1",
        "default_model": "llama3", "priority": 0,
    }, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["routing_intent"]["position"] == 1
    changed("create")
    before = fresh_chain()
    # A secret set makes a skipped provider usable; clearing it skips it again.
    needy = Provider.objects.get(pk="fleet-005")  # required secret, none stored (i % 5 == 0)
    set_secret(needy, "sk-cache-canary-" + "z" * 20, actor=admin_user)
    changed("secret set")
    before = fresh_chain()
    clear_secret(needy, actor=admin_user)
    changed("secret clear")
    before = fresh_chain()
    # A recorded check that moves no status still changes what the reasons quote (the time of
    # the last error of an unreachable provider).
    record_outcomes([Provider.objects.get(pk="fleet-004")], [outcome("fleet-004", ok=False, error="timeout")])
    assert Provider.objects.get(pk="fleet-004").status == "unreachable"
    changed("check recorded")
    before = fresh_chain()
    # Health moves a serving provider to unreachable.
    record_outcomes([Provider.objects.get(pk="fleet-001")], [outcome("fleet-001", ok=False, error="timeout")])
    assert Provider.objects.get(pk="fleet-001").status == "unreachable"
    changed("status moved by health")
    # Each change did change the chain, so the equalities above were not about a constant.
    assert all(differs for _, differs in changes), changes


def test_an_unchanged_state_is_served_from_the_stored_chain(admin_client, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 6)
    admin_client.get("/api/routing-chain")  # the client's user and permissions loaded once
    chaincache.forget()
    with CaptureQueriesContext(connection) as first:
        assert admin_client.get("/api/routing-chain").status_code == 200
    version = chaincache.stored_version()
    assert version is not None
    with CaptureQueriesContext(connection) as second:
        assert admin_client.get("/api/routing-chain").status_code == 200
    # The version's one query, not the chain's inputs again.
    assert len(second) == len(first) - 2
    assert chaincache.stored_version() == version
    admin_client.patch("/api/providers/fleet-002", {"display_name": "Renamed"}, format="json")
    assert chaincache.stored_version() != version


def test_a_check_that_commits_after_a_later_one_changes_the_version(admin_user, provider_factory):
    """Ids are handed out before commit: a check with a lower id can become visible after one
    with a higher id. The version still changes."""
    provider = provider_factory(id="late", kind="ollama")
    now = timezone.now()

    def check(pk: int) -> None:
        HealthCheck.objects.create(
            id=pk, provider=provider, checked_at=now - timedelta(seconds=pk), ok=True, latency_ms=100,
            provider_status="active", model="m",
        )

    check(100_000)
    check(100_010)
    version = chaincache.chain_version()
    check(100_005)  # committed "late", below the highest id
    assert chaincache.chain_version() != version


def test_a_chain_computed_inside_a_rolled_back_transaction_is_not_kept(admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 4)
    kept = chaincache.cached_chain()
    version = chaincache.stored_version()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.update_provider(Provider.objects.get(pk="fleet-001"), {"name": "renamed-001"}, actor=admin_user)
        inside = chaincache.cached_chain()
        assert inside.nodes[0].name == "renamed-001"  # the transaction sees its own write
        raise RuntimeError("rolled back")
    assert chaincache.stored_version() == version
    assert chaincache.cached_chain() is kept


def test_a_rename_relabels_the_stored_chain_without_computing_it(admin_client, admin_user, provider_factory, monkeypatch):
    """A PATCH of the display name or the models only changes that provider's own node: the
    chain served is the stored one with the node relabelled (no chain computed, so its cost
    does not grow with the fleet), and it is the chain computed from the database."""
    grow(provider_factory, admin_user, 0, 8)
    assert_served_is_fresh(admin_client)
    admin_client.get("/api/routing-chain")  # stored again after the fresh process's check
    computed = []
    real = chaincache.compute_chain
    monkeypatch.setattr(chaincache, "compute_chain", lambda inputs: computed.append(1) or real(inputs))
    for pid, change in [
        ("fleet-001", {"display_name": "Renamed one"}),  # a serving node
        ("fleet-004", {"fallback_models": ["spare-model"]}),  # a skipped (unreachable) node
        ("fleet-006", {"display_name": "Renamed six", "default_model": "other-model"}),  # disabled: no node
    ]:
        response = admin_client.patch(f"/api/providers/{pid}", change, format="json")
        assert response.status_code == HTTPStatus.OK, response.content
        assert response.json()["routing_intent"] == expected_intents([pid])[pid]
        assert served_chain(admin_client) == fresh_chain()
    assert computed == []
    # Anything else (here a priority, which may move the node) is computed afresh.
    assert admin_client.patch("/api/providers/fleet-001", {"priority": 49}, format="json").status_code == HTTPStatus.OK
    assert computed == [1]
    assert served_chain(admin_client) == fresh_chain()


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_single_provider_responses_make_the_same_queries_at_5_and_50_providers(
    client, role, admin_user, viewer_user, provider_factory
):
    """Detail (API and page) and PATCH: the same number of queries for 5 providers as for 50,
    with the chain stored and with it computed afresh."""
    user = admin_user if role == "admin" else viewer_user
    client.force_login(user)

    edits = iter(range(100))

    def measure() -> dict:
        counts = {}
        for label, request in {
            "api detail": lambda: client.get("/api/providers/fleet-001"),
            "page detail": lambda: client.get("/providers/fleet-001/"),
        }.items():
            for state in ("computed", "stored"):
                if state == "computed":
                    chaincache.forget()
                with CaptureQueriesContext(connection) as queries:
                    response = request()
                assert response.status_code == HTTPStatus.OK, (label, response.status_code)
                counts[label, state] = len(queries)
        if role == "admin":
            with CaptureQueriesContext(connection) as queries:
                response = client.patch(
                    "/api/providers/fleet-001", {"display_name": f"edit {next(edits)}"},
                    content_type="application/json",
                )
            assert response.status_code == HTTPStatus.OK
            counts["patch"] = len(queries)
        return counts

    grow(provider_factory, admin_user, 0, 5)
    measure()  # permissions and sessions loaded once
    small = measure()
    grow(provider_factory, admin_user, 5, 50)
    large = measure()
    print(role, small, large)
    assert large == small
