"""Health endpoints: test one provider, test many, a provider's history and metrics (API.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.permissions import ViewableQuerysetMixin
from core.api import NoStoreMixin
from core.exceptions import Conflict
from health import metrics
from health.models import HealthCheck
from health.runner import UnknownProviders, providers_to_check, run_checks
from health.runreport import record_failed_run
from health.serializers import (
    CheckResultSerializer,
    MetricsSerializer,
    TestAllRequestSerializer,
    TestRequestSerializer,
    check_result,
    metrics_response,
)
from providers.models import Provider

TEST_PERMISSION = "providers.test_provider"
# Health is part of what a provider shows, so reading it follows the provider's view right
# (a user given view on one provider by an object permission sees its health too).
READ_PERMISSION = "providers.view_provider"


class HealthAPIView(NoStoreMixin, APIView):
    permission_name = READ_PERMISSION

    def required_permission(self, request: Request) -> str:
        return self.permission_name


class ProviderHealthAPIView(ViewableQuerysetMixin, GenericAPIView, HealthAPIView):
    """An endpoint of one provider: `get_object()` answers 404 for a provider the user may not
    view and 403 without the permission on it (accounts.permissions)."""

    queryset = Provider.objects.all()
    lookup_url_kwarg = "provider_id"
    pagination_class = None

    def get_provider(self) -> Provider:
        return self.get_object()


class ProviderTestView(ProviderHealthAPIView):
    serializer_class = TestRequestSerializer  # the body; the browsable API builds its form from it
    permission_name = TEST_PERMISSION
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "probes"

    @extend_schema(request=TestRequestSerializer, responses=CheckResultSerializer)
    def post(self, request: Request, provider_id: str) -> Response:
        provider = self.get_provider()
        body = TestRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if provider.is_archived:
            raise Conflict("This provider is archived; restore it before testing it.")
        result = run_checks([provider], deep=body.validated_data["deep"], actor=request.user)
        return Response(check_result(result.checks[0]))


class ProviderTestAllView(HealthAPIView):
    serializer_class = TestAllRequestSerializer  # the body; the browsable API builds its form from it
    permission_name = TEST_PERMISSION
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "probes"

    @extend_schema(
        request=TestAllRequestSerializer,
        responses=inline_serializer(
            "TestAllResult",
            {
                "checked": serializers.IntegerField(),
                "passed": serializers.IntegerField(),
                "failed": serializers.IntegerField(),
                "duration_ms": serializers.IntegerField(),
                "results": CheckResultSerializer(many=True),
            },
        ),
    )
    def post(self, request: Request) -> Response:
        body = TestAllRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            providers = providers_to_check(
                include_disabled=body.validated_data["include_disabled"],
                provider_ids=body.validated_data["provider_ids"],
            )
        except UnknownProviders as exc:
            raise serializers.ValidationError({"provider_ids": [f"Unknown provider: {pid}" for pid in exc.ids]}) from None
        result = run_checks(providers, actor=request.user)
        record_failed_run(result, actor=request.user)
        return Response(
            {
                "checked": result.checked,
                "passed": result.passed,
                "failed": result.failed,
                "duration_ms": result.duration_ms,
                "results": [check_result(check) for check in result.checks],
            }
        )


class ProviderHistoryView(ProviderHealthAPIView):
    pagination_class = api_settings.DEFAULT_PAGINATION_CLASS  # what get() pages with; the schema reads it

    @extend_schema(responses=CheckResultSerializer(many=True))
    def get(self, request: Request, provider_id: str) -> Response:
        provider = self.get_provider()
        checks = HealthCheck.objects.for_provider(provider.pk).newest_first()
        paginator = api_settings.DEFAULT_PAGINATION_CLASS()
        page = paginator.paginate_queryset(checks, request, view=self)
        return paginator.get_paginated_response(CheckResultSerializer(page, many=True).data)


class ProviderMetricsView(ProviderHealthAPIView):
    @extend_schema(responses=MetricsSerializer)
    def get(self, request: Request, provider_id: str) -> Response:
        provider = self.get_provider()
        return Response(
            metrics_response(provider.pk, metrics.for_provider(provider.pk), metrics.series_for(provider.pk))
        )
