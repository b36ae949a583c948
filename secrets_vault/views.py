"""`POST /api/providers/{id}/secret` and `GET /api/providers/{id}/secret/versions` (API.md).

Both need the vault permission (`secrets_vault.manage_secrets`, only the admin group):
viewers get 403, anonymous 401, users who may not even see the provider 404. Every response,
errors included, carries `Cache-Control: no-store`. The value is never echoed.

A provider whose secret policy is `none` answers every action with 409 "No secret required",
whatever the body holds. A stored value that cannot be decrypted (its key id is no longer in
VAULT_KEYS, or it fails authentication) is a 409 naming the key id and what to do.
"""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from accounts.permissions import RolePermission, ViewableQuerysetMixin
from core.api import NoStoreMixin
from core.exceptions import Conflict
from providers.models import Provider, SecretPolicy
from secrets_vault import crypto, services
from secrets_vault.api import project_row
from secrets_vault.models import PRIMARY_FIELD, SecretVersion
from secrets_vault.serializers import SecretActionSerializer, SecretProjectionSerializer, SecretVersionSerializer

VAULT_PERMISSION = "secrets_vault.manage_secrets"


class VaultView(NoStoreMixin, ViewableQuerysetMixin, GenericAPIView):
    permission_classes = [RolePermission]
    queryset = Provider.objects.all()
    lookup_url_kwarg = "provider_id"
    pagination_class = None

    def required_permission(self, request) -> str:
        return VAULT_PERMISSION

    def get_provider(self) -> Provider:
        return self.get_object()  # 404 when hidden, 403 without the vault permission

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Pragma"] = "no-cache"  # for HTTP/1.0 caches in front of the vault
        return response


@method_decorator(sensitive_post_parameters("value"), name="dispatch")
class SecretActionView(VaultView):
    serializer_class = SecretActionSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "secrets"

    @extend_schema(
        request=SecretActionSerializer,
        responses={200: SecretProjectionSerializer},
        summary="Set, rotate, clear or restore the provider's secret",
        description="Admin only (vault permission). Never echoes the value; 409 when the action does not fit the "
        "state, when the provider's secret policy is none, or when a stored value cannot be decrypted.",
    )
    @method_decorator(sensitive_variables())
    def post(self, request, provider_id: str):
        provider = self.get_provider()
        if provider.secret_policy == SecretPolicy.NONE:  # before the body is even read
            raise Conflict("No secret required: this provider's secret policy is 'none'.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            row = services.apply_action(
                provider,
                data["action"],
                value=data.get("value"),
                hint=data.get("secret_id_hint"),
                version=data.get("version"),
                field=PRIMARY_FIELD,
                actor=request.user,
            )
        except (services.SecretConflict, crypto.VaultError) as exc:
            raise Conflict(str(exc)) from None
        projection = project_row(
            {
                "provider_id": row.provider_id,
                "version": row.version,
                "action": row.action,
                "created_by_name": row.created_by_name,
                "created_at": row.created_at,
                "secret_id_hint": row.secret_id_hint,
            }
        )
        body = {"provider_id": provider.pk, "action": row.action, **projection}
        return Response(SecretProjectionSerializer(body).data)


class SecretVersionListView(VaultView):
    serializer_class = SecretVersionSerializer

    @extend_schema(responses={200: SecretVersionSerializer(many=True)}, summary="The provider's secret versions (no values)")
    def get(self, request, provider_id: str):
        provider = self.get_provider()
        rows = (
            SecretVersion.objects.history(provider.pk, PRIMARY_FIELD)
            .only("version", "created_at", "created_by_name", "action", "secret_id_hint", "is_current")
        )
        return Response(SecretVersionSerializer(rows, many=True).data)
