"""What a platform team's tooling calls: liveness and readiness, Prometheus metrics, the
configuration as code (API.md, "Operations")."""

from django.urls import path  # noqa: F401

from operations.config_api import ConfigView
from operations.metrics_view import metrics
from operations.probes import healthz, readyz

urlpatterns: list = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("api/config", ConfigView.as_view(), name="api-config"),
]
