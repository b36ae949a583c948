from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from providers.models import Kind, Provider


class ProviderFactory(DjangoModelFactory):
    class Meta:
        model = Provider

    id = factory.Sequence(lambda n: f"provider-{n}")
    name = factory.LazyAttribute(lambda o: o.id)
    display_name = factory.LazyAttribute(lambda o: o.id.replace("-", " ").title())
    kind = Kind.OPENAI_COMPATIBLE
    endpoint = factory.LazyAttribute(lambda o: f"https://{o.id}.example.test/v1")
    default_model = "gpt-4o-mini"
    fallback_models = factory.LazyFunction(lambda: ["gpt-4o"])
    priority = factory.Sequence(lambda n: 10 * (n + 1))
    secret_policy = ""  # filled from kind by Provider.save()
