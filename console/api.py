"""The provider REST API (list, create, detail, patch, archive, restore), the routing chain and
its preview, and the API root at /api/. These answer with the combined read model (the vault's
projection, health, `routing_intent`), so they live in the console, which may use every app."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from accounts.permissions import ViewableQuerysetMixin, method_permission
from console import listcache
from console.chaincache import cached_chain, chain_after_change
from console.filters import ProviderFilter
from console.preview import preview_chain
from console.readmodel import ProviderContext
from console.serializers import (
    ChainPreviewSerializer,
    ChainSerializer,
    ProviderSerializer,
    RoutingPreviewSerializer,
)
from core.api import NoStoreMixin
from core.exceptions import Conflict, PreconditionFailed
from core.schema import ErrorSerializer
from providers import services
from providers.access import metadata_masker
from providers.models import Provider
from providers.signals import ChangeConflict


class ApiRootView(APIView):
    """Providers, the routing chain, the audit log and alert channels; the schema and its Swagger UI."""

    permission_classes = [IsAuthenticated]

    @extend_schema(exclude=True)
    def get(self, request, format=None):
        def link(name: str) -> str:
            return reverse(name, request=request, format=format)

        return Response(
            {
                "providers": link("api-provider-list"),
                "routing-chain": link("routing-chain"),
                "routing-chain-preview": link("routing-chain-preview"),
                "test-all": link("provider-test-all"),
                "events": link("event-list"),
                # By URL name: the console does not import the alerts app.
                "alert-channels": link("api-alert-channel-list"),
                "schema": link("schema"),
                "docs": link("api-docs"),
            }
        )


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
        # The list already asked who its reader is (console/listcache.py): not again.
        known = {"clear": lambda provider: False, "masked": lambda provider: True}.get(getattr(self, "_audience", None))
        context.update(mask_metadata=known or metadata_masker(user))
        return context

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        # The chain as cached for its version (console/chaincache.py) and the vault's and
        # health's part for the providers answered only: a response's cost does not grow with
        # the fleet. Loaded on first use, so an answer written after a change shows it.
        instance = serializer.instance
        id_query = None
        if instance is None:
            ids = []
        elif isinstance(instance, Provider):
            ids = [instance.id]
        else:  # a page of the list (a QuerySet keeps what this loop read for the serializer)
            ids = [row.id for row in instance]
            page = getattr(getattr(self, "paginator", None), "page", None)
            if page is not None and ids and connection.features.allow_sliced_subqueries_with_in:
                # The page's own query as a subquery: Django prepares an `IN` list of ids one
                # parameter at a time, which cost more than the page's SQL.
                id_query = page.paginator.object_list[page.start_index() - 1 : page.end_index()].values("pk")
        serializer.context["load_chain"] = lambda: (self._chain(), None, ProviderContext(ids, id_query=id_query))
        return serializer

    _chain = staticmethod(cached_chain)

    def _respond(
        self, provider: Provider, code: int = status.HTTP_200_OK, *, changed: bool = False, endpoint_changed: bool = False
    ) -> Response:
        """The provider as it now is. `changed`: this request just changed it, so the chain is
        derived from the stored one with this provider's change (`chain_after_change`), unless
        its endpoint moved (which decides whether its secret is bound there)."""
        if changed:
            self._chain = lambda: chain_after_change(provider, endpoint_changed=endpoint_changed)
        data = self.get_serializer(provider).data
        return Response(data, status=code, headers={"ETag": f'"{provider.version}"'})

    def _expected_version(self) -> set[int] | None:
        # Compared by the service once the row is locked, not here: two PATCHes that read the
        # same version must not both pass (API.md: a stale If-Match is 412).
        return if_match_versions(self.request.headers.get("If-Match"))

    def list(self, request, *args, **kwargs):
        # An unchanged fleet's page is answered from console/listcache.py (one query).
        self._audience = listcache.audience(request.user)
        key = listcache.key_for(request, self._audience)
        kept = listcache.lookup(key) if key is not None else None
        if kept is not None:
            return listcache.KeptResponse(kept)
        if key is not None:
            self._chain = lambda: cached_chain(key[0])  # the version just read
        response = super().list(request, *args, **kwargs)
        if key is not None and response.status_code == 200:
            listcache.store(key, response.data)
        return response

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
        return self._respond(provider, status.HTTP_201_CREATED, changed=True)  # new: no secret yet

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
        return self._respond(provider, changed=True, endpoint_changed="endpoint" in changes)

    @extend_schema(responses={200: ProviderSerializer}, description="Archive (reversible): the provider, with `archived_at`.")
    def destroy(self, request, *args, **kwargs):
        provider = self.get_object()
        try:
            archived = services.archive_provider(provider, actor=request.user, expected_version=self._expected_version())
        except services.VersionMismatch as exc:
            raise PreconditionFailed(str(exc)) from None
        return self._respond(archived, changed=True)

    @extend_schema(request=None, responses=ProviderSerializer, description="Un-archive: the provider again.")
    @action(detail=True, methods=["post"])
    def restore(self, request, *args, **kwargs):
        provider = self.get_object()
        if provider.name and Provider.objects.live().filter(name=provider.name).exclude(pk=provider.pk).exists():
            raise Conflict({"name": ["Another provider now uses this name; rename it first."]})
        return self._respond(services.restore_provider(provider, actor=request.user), changed=True)


class RoutingChainView(NoStoreMixin, generics.GenericAPIView):
    queryset = Provider.objects.all()

    def required_permission(self, request: Request) -> str:
        return "providers.view_provider"

    @extend_schema(responses=ChainSerializer)
    def get(self, request: Request) -> Response:
        return Response(cached_chain().to_dict())


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
