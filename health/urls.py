"""Health endpoints under /api/providers/…; included before the provider router so they win."""

from django.urls import path

from health.views import ProviderHistoryView, ProviderMetricsView, ProviderTestAllView, ProviderTestView

urlpatterns = [
    path("providers/test-all", ProviderTestAllView.as_view(), name="provider-test-all"),
    path("providers/<str:provider_id>/test", ProviderTestView.as_view(), name="provider-test"),
    path("providers/<str:provider_id>/history", ProviderHistoryView.as_view(), name="provider-history"),
    path("providers/<str:provider_id>/metrics", ProviderMetricsView.as_view(), name="provider-metrics"),
]
