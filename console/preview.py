"""The routing chain as it would be after a change that is not saved: the preview endpoint's
computation, which the console's edit forms show beside the form."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from rest_framework.exceptions import ValidationError

from console.readmodel import provider_routing_fields, routing_inputs
from console.serializers import ProviderSerializer
from core.exceptions import Conflict
from providers import services
from providers.models import Provider
from providers.routing import RoutingInput, compute_chain


def _validate_nested(serializer, key: str) -> None:
    if not serializer.is_valid():
        raise ValidationError({key: serializer.errors})


def preview_chain(body: dict[str, Any], request) -> tuple[Any, Any]:
    """(the chain now, the chain as if `body` were applied) for a validated
    `RoutingPreviewSerializer` body; saves nothing. The preview endpoint and the console's edit
    forms both use it. Raises ValidationError (400), Conflict (409) or Http404 as the endpoint
    answers them.

    It reads only what the chain needs (`routing_inputs`: two queries whatever the fleet's size),
    not the list's read model with its health aggregates, so it answers fast at fleet size."""
    inputs = routing_inputs()
    chain = compute_chain(inputs.values())

    if "provider" in body:
        proposed = ProviderSerializer(data=body["provider"], context={"request": request})
        _validate_nested(proposed, "provider")
        data = dict(proposed.validated_data)
        if data["id"] in inputs or any(p.name == data["name"] for p in inputs.values()):
            raise Conflict({"provider": {"id": ["A provider with this id or name already exists."]}})
        status_change = {k: data.pop(k) for k in ("status", "enabled") if k in data}
        candidate = Provider(**data)
        services.apply_operator_status(candidate, **status_change)
        # A new provider has no secret and no check yet.
        inputs[candidate.id] = RoutingInput(
            id=candidate.id, **provider_routing_fields(candidate), secret_present=False, secret_bound=False,
        )
    else:
        provider = get_object_or_404(Provider, pk=body["provider_id"])
        proposed = ProviderSerializer(provider, data=body["changes"], partial=True, context={"request": request})
        _validate_nested(proposed, "changes")
        changes = dict(proposed.validated_data)
        status_change = {k: changes.pop(k) for k in ("status", "enabled") if k in changes}
        for name, value in changes.items():
            setattr(provider, name, value)
        services.apply_operator_status(provider, **status_change)
        # Its own fields as changed; its secret and its last check as they are.
        inputs[provider.id] = inputs[provider.id].with_changes(**provider_routing_fields(provider))

    return chain, compute_chain(inputs.values())
