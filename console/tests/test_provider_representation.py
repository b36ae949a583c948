"""The provider object written field by field (`ProviderSerializer.to_representation`) is DRF's
generic representation through the declared fields, key order included: for every status, kind,
secret state, health, archived or not, a freshly created instance (enum values, not strings
from the database), and for an admin, a viewer (metadata masked) and a delegated user (a
neighbour hidden)."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from console.chaincache import cached_chain
from console.readmodel import ProviderContext
from console.serializers import ProviderSerializer
from console.tests.test_list_page_queries import grow
from providers import services
from providers.access import metadata_masker
from providers.models import Kind, Provider

pytestmark = pytest.mark.django_db


def both(provider: Provider, user) -> tuple[str, str]:
    context = {
        "request": SimpleNamespace(user=user),
        "mask_metadata": metadata_masker(user),
        "load_chain": lambda: (cached_chain(), None, ProviderContext([provider.id])),
    }
    fast = ProviderSerializer(provider, context=dict(context)).to_representation(provider)
    generic = ProviderSerializer(provider, context=dict(context)).generic_representation(provider)
    # Compared as the renderer writes them: same keys, same order, same values and types.
    return json.dumps(fast), json.dumps(generic)


def test_the_written_representation_is_drfs(admin_user, viewer_user, provider_factory):
    grow(provider_factory, admin_user, 0, 14)
    services.update_provider(
        Provider.objects.get(pk="fleet-002"), {"metadata": {"team": "core", "tags": ["a", "b"]}}, actor=admin_user
    )
    services.archive_provider(Provider.objects.get(pk="fleet-003"), actor=admin_user)
    fresh = services.create_provider(
        {"id": "fresh", "name": "fresh", "kind": Kind.OLLAMA, "endpoint": "http://fresh.example.test:11434/v1",
         "default_model": "llama3", "secret_policy": "none", "metadata": {"owner": "ops"}},
        actor=admin_user,
    )
    call_command("create_operator", "dana", stdout=io.StringIO())
    delegated = get_user_model().objects.get(username="dana")
    call_command("delegate", "dana", "fleet-001", "--perm", "view", stdout=io.StringIO())

    providers = [*Provider.objects.all(), fresh]
    assert len(providers) == 16
    for user in (admin_user, viewer_user, delegated):
        for provider in providers:
            fast, generic = both(provider, user)
            assert fast == generic, (user.username, provider.id)
    # The readers did differ: metadata values masked for the viewer, shown to the admin.
    assert '"team": "core"' in both(Provider.objects.get(pk="fleet-002"), admin_user)[0]
    assert '"team": "***"' in both(Provider.objects.get(pk="fleet-002"), viewer_user)[0]
