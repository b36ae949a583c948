"""A delegated user reads their provider's place in the routing chain, never a neighbour they
may not see (docs/roles.md): `routing_intent.next_provider_id` is null for them when it would
name another provider, in the API and on the provider's page."""

from __future__ import annotations

import io
from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from providers.models import Provider
from providers.services import update_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(provider_factory):
    # In the chain: mine (#1, serving), theirs (#2), shared (#3). Dana holds mine and shared.
    provider_factory(id="mine", priority=1, secret_policy="none")
    provider_factory(id="theirs", priority=2, secret_policy="none", display_name="Their Secret Neighbour")
    provider_factory(id="shared", priority=3, secret_policy="none")


@pytest.fixture
def dana(fleet):
    call_command("create_operator", "dana", stdout=io.StringIO())
    user = get_user_model().objects.get(username="dana")
    for provider_id in ("mine", "shared"):
        call_command("delegate", "dana", provider_id, "--perm", "view", stdout=io.StringIO())
    return user


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_nulls_a_neighbour_the_delegated_user_may_not_see(dana, viewer_user, fleet):
    # Someone with the global view permission reads the neighbour's id ...
    seen_by_viewer = api(viewer_user).get("/api/providers/mine").json()["routing_intent"]
    assert seen_by_viewer == {"role": "primary", "position": 1, "targets": ["gpt-4o-mini", "gpt-4o"], "next_provider_id": "theirs"}
    # ... the delegated user reads the same intent without it.
    detail = api(dana).get("/api/providers/mine")
    assert detail.status_code == HTTPStatus.OK
    assert detail.json()["routing_intent"] == {**seen_by_viewer, "next_provider_id": None}
    assert "theirs" not in detail.content.decode()
    # The list the same, for every row; a neighbour they may see is still named.
    listing = api(dana).get("/api/providers")
    assert listing.status_code == HTTPStatus.OK
    intents = {row["id"]: row["routing_intent"] for row in listing.json()["results"]}
    assert set(intents) == {"mine", "shared"}
    assert intents["mine"]["next_provider_id"] is None
    assert intents["shared"]["next_provider_id"] is None  # last in the chain
    assert "theirs" not in listing.content.decode()
    # Theirs ranking after shared instead: shared's next is hidden, mine's next (shared) is not.
    update_provider(Provider.objects.get(pk="theirs"), {"priority": 9})
    intents = {row["id"]: row["routing_intent"] for row in api(dana).get("/api/providers").json()["results"]}
    assert intents["mine"]["next_provider_id"] == "shared"
    assert intents["shared"]["next_provider_id"] is None
    assert api(viewer_user).get("/api/providers/shared").json()["routing_intent"]["next_provider_id"] == "theirs"


def test_the_provider_page_does_not_name_the_neighbour_either(client, dana, viewer_user, fleet):
    client.force_login(viewer_user)
    assert ", then theirs" in client.get("/providers/mine/").content.decode()
    client.force_login(dana)
    page = client.get("/providers/mine/")
    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert "primary #1" in html
    assert "theirs" not in html and "Their Secret Neighbour" not in html
    # The list page as well: their cards only, no chain, no neighbour.
    listing = client.get("/").content.decode()
    assert 'data-provider="mine"' in listing and "theirs" not in listing
