"""The alerts REST API (API.md, "Alerts"): channels (list, create, read, edit, delete), a webhook
channel's secret, a test alert, and a channel's deliveries.

It follows the provider API: the one permission rule (`accounts.permissions`: viewers read,
admins change, the vault permission for the secret, 404 for what the reader may not see), the
two error shapes, `ETag` and `If-Match` (412 naming the current version, nothing changed),
strict bodies and the same pagination. Every change goes through `alerts.services`, which
checks the fields with `clean_channel` and writes the audit event in the same transaction.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from accounts.permissions import ViewableQuerysetMixin, method_permission
from alerts import services
from alerts.models import AlertChannel, AlertDelivery, ChannelKind, DeliveryAttempt, DeliveryStatus
from alerts.serializers import (
    AlertChannelSerializer,
    AlertChannelWriteSerializer,
    AlertDeliverySerializer,
    DeliveryFilterSerializer,
    NoBodySerializer,
    WebhookSecretActionSerializer,
    WebhookSecretStateSerializer,
    secret_state_body,
)
from console.api import if_match_versions
from core.api import NoStoreMixin
from core.exceptions import Conflict, PreconditionFailed
from core.schema import ValidationErrorSerializer
from secrets_vault import api as vault

CHANNEL_ID_RE = "[a-z0-9][a-z0-9_-]{0,62}"
VAULT_PERMISSION = "secrets_vault.manage_secrets"
TEST_PERMISSION = "alerts.change_alertchannel"
DELIVERIES_PERMISSION = "alerts.view_alertdelivery"
# Failed for good, or tried and waiting for the next try.
FAILING = Q(status=DeliveryStatus.FAILED) | Q(status=DeliveryStatus.PENDING, attempts__gt=0)


def with_delivery_summary(channels):
    """Each channel with its newest delivery's status and times and its failing count, as
    subqueries of the channels' own query (each reads the (channel, -id) index): a page of
    channels costs the same number of queries at 2 rows as at 50."""
    newest = AlertDelivery.objects.filter(channel=OuterRef("pk")).order_by("-id")
    failing = (
        AlertDelivery.objects.filter(FAILING, channel=OuterRef("pk"))
        .order_by()
        .values("channel")
        .annotate(n=Count("id"))
        .values("n")
    )
    return channels.annotate(
        last_delivery_status=Subquery(newest.values("status")[:1]),
        last_delivery_created_at=Subquery(newest.values("created_at")[:1]),
        last_delivery_sent_at=Subquery(newest.values("sent_at")[:1]),
        failing=Coalesce(Subquery(failing, output_field=IntegerField()), Value(0)),
    )


class AlertChannelViewSet(
    NoStoreMixin,
    ViewableQuerysetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = AlertChannel.objects.all()
    serializer_class = AlertChannelSerializer
    lookup_value_regex = CHANNEL_ID_RE
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def required_permission(self, request: Request) -> str:
        return method_permission(AlertChannel, request.method)

    def get_queryset(self):
        return with_delivery_summary(super().get_queryset())

    def get_serializer_class(self):
        # The browsable API builds its POST and PATCH forms with the request's method.
        return AlertChannelWriteSerializer if self.request.method in ("POST", "PATCH") else AlertChannelSerializer

    def _respond(self, channel: AlertChannel, code: int = status.HTTP_200_OK, *, reread: bool = True) -> Response:
        if reread:  # the delivery summary is an annotation of the channels' query
            channel = self.get_queryset().get(pk=channel.pk)
        data = AlertChannelSerializer(channel, context=self.get_serializer_context()).data
        return Response(data, status=code, headers={"ETag": f'"{channel.version}"'})

    def _expected_version(self) -> set[int] | None:
        # Compared by the service once the row is locked: two PATCHes that read the same
        # version must not both pass.
        return if_match_versions(self.request.headers.get("If-Match"))

    @extend_schema(request=AlertChannelWriteSerializer, responses={201: AlertChannelSerializer})
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        channel_id = data.get("id")
        if isinstance(channel_id, str) and AlertChannel.objects.filter(pk=channel_id).exists():
            raise Conflict({"id": [f"A channel with id {channel_id!r} already exists."]})
        try:
            channel = services.create_channel(data, actor=request.user)
        except IntegrityError:  # a concurrent create won the race
            raise Conflict({"id": ["A channel with this id already exists."]}) from None
        return self._respond(channel, status.HTTP_201_CREATED)

    def retrieve(self, request, *args, **kwargs):
        return self._respond(self.get_object(), reread=False)

    @extend_schema(request=AlertChannelWriteSerializer(partial=True), responses={200: AlertChannelSerializer})
    def partial_update(self, request, *args, **kwargs):
        channel = self.get_object()
        body = self.get_serializer(channel, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            channel = services.update_channel(
                channel, body.validated_data, actor=request.user, expected_version=self._expected_version()
            )
        except services.VersionMismatch as exc:
            raise PreconditionFailed(str(exc)) from None
        return self._respond(channel)

    @extend_schema(responses={204: None}, description="Deletes the channel and its delivery history.")
    def destroy(self, request, *args, **kwargs):
        channel = self.get_object()
        try:
            services.delete_channel(channel, actor=request.user, expected_version=self._expected_version())
        except services.VersionMismatch as exc:
            raise PreconditionFailed(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelAPIView(NoStoreMixin, ViewableQuerysetMixin, GenericAPIView):
    """An endpoint of one channel: `get_object()` answers 404 for a channel the reader may not
    view and 403 without the endpoint's permission (accounts.permissions)."""

    queryset = AlertChannel.objects.all()
    lookup_url_kwarg = "id"
    pagination_class = None
    permission_name = ""

    def required_permission(self, request: Request) -> str:
        return self.permission_name


@method_decorator(sensitive_post_parameters("value"), name="dispatch")
class ChannelSecretView(ChannelAPIView):
    """`POST /api/alert-channels/{id}/secret`: the webhook's signing key, as a provider secret."""

    serializer_class = WebhookSecretActionSerializer
    permission_name = VAULT_PERMISSION
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "secrets"

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Pragma"] = "no-cache"  # for HTTP/1.0 caches in front of the vault
        return response

    @extend_schema(
        request=WebhookSecretActionSerializer,
        responses={200: WebhookSecretStateSerializer},
        summary="Set, rotate or clear a webhook channel's signing secret",
        description="Admin only (vault permission). Never echoes the value. 400 for a channel that is not a "
        "webhook; 409 to rotate or clear when no secret is stored, or to set one over a stored one.",
    )
    @method_decorator(sensitive_variables())
    def post(self, request: Request, id: str) -> Response:
        channel = self.get_object()
        if channel.kind != ChannelKind.WEBHOOK:  # before the body is even read
            raise ValidationError(f"{channel.name} is a {channel.kind} channel; only a webhook channel has a secret.")
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        action = body.validated_data["action"]
        try:
            state = services.change_secret(channel, action, body.validated_data.get("value"), actor=request.user)
        except services.NotAWebhook as exc:  # its kind cannot change, but the service decides under lock
            raise ValidationError(str(exc)) from None
        except vault.SecretConflict as exc:
            raise Conflict(str(exc)) from None
        return Response(secret_state_body(channel, action, state))


class ChannelTestView(ChannelAPIView):
    """`POST /api/alert-channels/{id}/test`: queue one `alert.test` delivery (enabled or not)."""

    serializer_class = NoBodySerializer
    permission_name = TEST_PERMISSION
    # The deliverer will reach out to the channel's URL, as a probe reaches a provider.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "probes"

    @extend_schema(
        request=None,
        responses={202: AlertDeliverySerializer},
        summary="Queue a test alert to the channel",
        description="Takes no body. Records an `alert.test` event and queues its one delivery, which "
        "`manage.py deliver_alerts` or the checker sends.",
    )
    def post(self, request: Request, id: str) -> Response:
        delivery = services.send_test(self.get_object(), actor=request.user)
        return Response(AlertDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class ChannelDeliveriesView(ChannelAPIView):
    """`GET /api/alert-channels/{id}/deliveries`: newest first, optionally `?status=`."""

    permission_name = DELIVERIES_PERMISSION
    pagination_class = api_settings.DEFAULT_PAGINATION_CLASS  # what get() pages with; the schema reads it

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=DeliveryStatus.values, description="Only deliveries in this state."),
        ],
        responses={200: AlertDeliverySerializer(many=True), 400: ValidationErrorSerializer},
        summary="The channel's deliveries, newest first, each with its attempts",
    )
    def get(self, request: Request, id: str) -> Response:
        channel = self.get_object()
        query = DeliveryFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = (
            AlertDelivery.objects.filter(channel=channel)
            .order_by("-id")
            .prefetch_related(Prefetch("attempt_rows", queryset=DeliveryAttempt.objects.order_by("number")))
        )
        if "status" in query.validated_data:
            rows = rows.filter(status=query.validated_data["status"])
        paginator = self.paginator
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(AlertDeliverySerializer(page, many=True).data)
