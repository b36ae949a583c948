"""The provider list page: one numbering for cards and chain, badges that say each thing once."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers.models import SecretPolicy, Status, Tier

pytestmark = pytest.mark.django_db


def _chain_places(html: str) -> list[tuple[str, str, str]]:
    """(provider id, status badge, place badge) of each chain node, in page order."""
    return re.findall(
        r'<li class="node state-\w+" data-provider="([^"]+)">.*?'
        r'<span class="badge status-\w+" title="status">([^<]+)</span>\s*'
        r'<span class="badge state"[^>]*>([^<]+)</span>',
        html,
        re.S,
    )


def _card_ids(html: str) -> list[str]:
    return re.findall(r'<article class="card[^"]*"[^>]*data-provider="([^"]+)"', html)


def test_cards_follow_the_chain_positions_and_badges_never_repeat_a_word(client, viewer_user, provider_factory):
    # By priority: unready (required secret missing) 10, standby-a 20, degraded 30, off 40, active-b 50.
    provider_factory(id="unready", priority=10, secret_policy=SecretPolicy.REQUIRED)
    provider_factory(id="standby-a", priority=20, tier=Tier.STANDBY, status=Status.STANDBY, secret_policy=SecretPolicy.NONE)
    provider_factory(id="degraded", priority=30, status=Status.DEGRADED, secret_policy=SecretPolicy.NONE)
    provider_factory(id="off", priority=40, enabled=False, status=Status.DISABLED, secret_policy=SecretPolicy.NONE)
    provider_factory(id="active-b", priority=50, secret_policy=SecretPolicy.NONE)
    client.force_login(viewer_user)

    html = client.get("/").content.decode()

    places = _chain_places(html)
    # Effective order: usable healthy by tier then priority, usable degraded, then skipped.
    assert [p[0] for p in places] == ["active-b", "standby-a", "degraded", "unready"]
    assert [p[2].strip() for p in places] == ["#1 serving", "#2 fallback", "#3 fallback", "#4 skipped"]
    for _, status, place in places:
        words = status.split() + place.split()
        assert len(words) == len(set(words)), words
    # The card's position is the chain's; the disabled provider comes after the chain.
    assert _card_ids(html) == ["active-b", "standby-a", "degraded", "unready", "off"]


def test_the_list_answers_for_a_viewer(client, viewer_user, provider_factory):
    provider_factory(id="solo", secret_policy=SecretPolicy.NONE)
    client.force_login(viewer_user)
    assert client.get("/").status_code == HTTPStatus.OK


def test_filters_and_sorts_live_in_the_url_and_the_count_is_shown(client, viewer_user, provider_factory):
    provider_factory(id="cloud-a", priority=10, secret_policy=SecretPolicy.REQUIRED)
    provider_factory(id="local-b", priority=20, kind="ollama", secret_policy=SecretPolicy.NONE)
    provider_factory(id="local-c", priority=30, kind="ollama", secret_policy=SecretPolicy.NONE)
    client.force_login(viewer_user)

    html = client.get("/?kind=ollama").content.decode()
    assert _card_ids(html) == ["local-b", "local-c"]
    assert "2 of 3 providers match" in html
    assert '<option value="ollama" selected>' in html

    html = client.get("/?secret=missing").content.decode()
    assert _card_ids(html) == ["cloud-a"]

    html = client.get("/?search=local-c").content.decode()
    assert _card_ids(html) == ["local-c"]

    # An ordering from the URL replaces the chain's order.
    html = client.get("/?kind=ollama&ordering=priority").content.decode()
    assert _card_ids(html) == ["local-b", "local-c"]

    html = client.get("/").content.decode()
    assert "3 providers" in html
    assert "Clear" not in html.split('data-testid="list-filters"')[1].split("</form>")[0]


def test_a_bad_filter_is_a_400_with_the_reason_and_keeps_every_card(client, viewer_user, provider_factory):
    provider_factory(id="one", secret_policy=SecretPolicy.NONE)
    client.force_login(viewer_user)
    response = client.get("/?kind=teapot")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    assert 'data-testid="filter-error"' in html and "kind:" in html
    assert _card_ids(html) == ["one"]


def test_the_list_query_count_does_not_grow_with_the_fleet(client, viewer_user, provider_factory):
    client.force_login(viewer_user)
    provider_factory.create_batch(3, secret_policy=SecretPolicy.NONE)

    with CaptureQueriesContext(connection) as few:
        client.get("/?ordering=-avg_latency&health=unknown")
    provider_factory.create_batch(30, secret_policy=SecretPolicy.NONE)
    with CaptureQueriesContext(connection) as many:
        client.get("/?ordering=-avg_latency&health=unknown")
    assert len(many) == len(few)
