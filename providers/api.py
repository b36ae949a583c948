"""The provider REST API: list, create, detail, patch, archive, restore; the routing chain."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import ViewableQuerysetMixin, method_permission
from core.api import NoStoreMixin
from core.exceptions import Conflict, PreconditionFailed
from core.schema import ErrorSerializer
from providers import services
from providers.access import metadata_masker
from providers.chain import ProviderContext, current_chain, routing_input
from providers.filters import ProviderFilter
from providers.models import Provider
from providers.routing import compute_chain
from providers.serializers import (
    ChainPreviewSerializer,
    ChainSerializer,
    ProviderSerializer,
    RoutingPreviewSerializer,
)
from providers.signals import ChangeConflict


def if_match_versions(header: str | None) -> set[int] | None:
    """The versions an `If-Match` header accepts; None when any will do (no header, or `*`).

    An entity tag that is not one of our versions matches nothing, so the change is refused.
    """
    if header is None:
        return None
    candidates = [c.strip() for c in header.split(",")]
    if "*" in candidates:
        return None
    tags = (c.removeprefix("W/").strip('"') for c in candidates)
    return {int(tag) for tag in tags if tag.isascii() and tag.isdigit() and len(tag) <= 18}


class ProviderViewSet(
    NoStoreMixin,
    ViewableQuerysetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Provider.objects.all()
    serializer_class = ProviderSerializer
    filterset_class = ProviderFilter
    lookup_value_regex = "[a-z0-9][a-z0-9_-]{0,62}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def required_permission(self, request: Request) -> str:
        # Restoring is a change (a POST that adds nothing); DELETE archives, under delete_provider.
        if self.action == "restore":
            return "providers.change_provider"
        return method_permission(Provider, request.method)

    def filter_queryset(self, queryset):
        # Filters (and hiding archived providers) are for the list; an archived provider stays
        # reachable by id so it can be read and restored.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        user = self.request.user
        context.update(
            load_chain=current_chain,
            mask_metadata=metadata_masker(user),
        )
        return context

    def _respond(self, provider: Provider, code: int = status.HTTP_200_OK) -> Response:
        data = self.get_serializer(provider).data
        return Response(data, status=code, headers={"ETag": f'"{provider.version}"'})

    def _expected_version(self) -> set[int] | None:
        # Compared by the service once the row is locked, not here: two PATCHes that read the
        # same version must not both pass (API.md: a stale If-Match is 412).
        return if_match_versions(self.request.headers.get("If-Match"))

    def retrieve(self, request, *args, **kwargs):
        return self._respond(self.get_object())

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        clash = Provider.objects.filter(Q(id=data["id"]) | Q(name=data["name"])).values_list("id", "name").first()
        if clash is not None:
            field = "id" if clash[0] == data["id"] else "name"
            raise Conflict({field: [f"A provider with this {field} already exists (archived ones count)."]})
        try:
            provider = services.create_provider(data, actor=request.user)
        except IntegrityError:  # a concurrent create won the race
            raise Conflict({"id": ["A provider with this id or name already exists."]}) from None
        return self._respond(provider, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        provider = self.get_object()
        serializer = self.get_serializer(provider, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = serializer.validated_data
        new_name = changes.get("name")
        if new_name and new_name != provider.name and Provider.objects.filter(name=new_name).exists():
            raise Conflict({"name": ["A provider with this name already exists."]})
        try:
            provider = services.update_provider(
                provider, changes, actor=request.user, expected_version=self._expected_version()
            )
        except services.VersionMismatch as exc:
            raise PreconditionFailed(str(exc)) from None
        except IntegrityError:
            raise Conflict({"name": ["A provider with this name already exists."]}) from None
        except ChangeConflict as exc:  # e.g. the secret could not be re-bound to a new origin
            raise Conflict(str(exc)) from None
        return self._respond(provider)

    @extend_schema(responses={200: ProviderSerializer}, description="Archive (reversible): the provider, with `archived_at`.")
    def destroy(self, request, *args, **kwargs):
        provider = self.get_object()
        try:
            archived = services.archive_provider(provider, actor=request.user, expected_version=self._expected_version())
        except services.VersionMismatch as exc:
            raise PreconditionFailed(str(exc)) from None
        return self._respond(archived)

    @extend_schema(request=None, responses=ProviderSerializer, description="Un-archive: the provider again.")
    @action(detail=True, methods=["post"])
    def restore(self, request, *args, **kwargs):
        provider = self.get_object()
        if provider.name and Provider.objects.live().filter(name=provider.name).exclude(pk=provider.pk).exists():
            raise Conflict({"name": ["Another provider now uses this name; rename it first."]})
        return self._respond(services.restore_provider(provider, actor=request.user))


class RoutingChainView(NoStoreMixin, generics.GenericAPIView):
    queryset = Provider.objects.all()

    def required_permission(self, request: Request) -> str:
        return "providers.view_provider"

    @extend_schema(responses=ChainSerializer)
    def get(self, request: Request) -> Response:
        chain, _, _ = current_chain()
        return Response(chain.to_dict())


class RoutingPreviewView(NoStoreMixin, generics.GenericAPIView):
    """The chain as it would be after a change, computed by the same engine; saves nothing."""

    queryset = Provider.objects.all()
    serializer_class = RoutingPreviewSerializer

    def required_permission(self, request: Request) -> str:
        # A preview changes nothing, so viewers may ask "what if".
        return "providers.view_provider"

    @extend_schema(
        request=RoutingPreviewSerializer,
        responses={200: ChainPreviewSerializer, 404: ErrorSerializer},  # 404: provider_id names no provider
    )
    def post(self, request: Request) -> Response:
        body = RoutingPreviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        chain, preview = preview_chain(body.validated_data, request)
        data = preview.to_dict()
        data["changed"] = preview.signature() != chain.signature()
        return Response(data)


def _validate_nested(serializer, key: str) -> None:
    if not serializer.is_valid():
        raise ValidationError({key: serializer.errors})


def preview_chain(body: dict[str, Any], request) -> tuple[Any, Any]:
    """(the chain now, the chain as if `body` were applied) for a validated
    `RoutingPreviewSerializer` body; saves nothing. The preview endpoint and the console's edit
    forms both use it. Raises ValidationError (400), Conflict (409) or Http404 as the endpoint
    answers them."""
    chain, providers, context = current_chain()
    inputs = {p.id: routing_input(p, context) for p in providers}

    if "provider" in body:
        proposed = ProviderSerializer(data=body["provider"], context={"request": request})
        _validate_nested(proposed, "provider")
        data = dict(proposed.validated_data)
        if data["id"] in inputs or any(p.name == data["name"] for p in providers):
            raise Conflict({"provider": {"id": ["A provider with this id or name already exists."]}})
        status_change = {k: data.pop(k) for k in ("status", "enabled") if k in data}
        candidate = Provider(**data)
        services.apply_operator_status(candidate, **status_change)
        inputs[candidate.id] = routing_input(candidate, ProviderContext([]))
    else:
        provider = get_object_or_404(Provider, pk=body["provider_id"])
        proposed = ProviderSerializer(provider, data=body["changes"], partial=True, context={"request": request})
        _validate_nested(proposed, "changes")
        changes = dict(proposed.validated_data)
        status_change = {k: changes.pop(k) for k in ("status", "enabled") if k in changes}
        for name, value in changes.items():
            setattr(provider, name, value)
        services.apply_operator_status(provider, **status_change)
        inputs[provider.id] = routing_input(provider, context)

    return chain, compute_chain(inputs.values())

