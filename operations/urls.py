"""What a platform team's tooling calls: liveness and readiness, Prometheus metrics, the
configuration as code (API.md, "Operations")."""

from django.urls import path  # noqa: F401

from operations.config_api import ConfigView
from operations.config_page import config_download, config_page
from operations.metrics_view import metrics
from operations.probes import healthz, readyz

urlpatterns: list = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("api/config", ConfigView.as_view(), name="api-config"),
    path("configuration/", config_page, name="config-page"),
    path("configuration/providers.yaml", config_download, {"fmt": "yaml"}, name="config-download-yaml"),
    path("configuration/providers.json", config_download, {"fmt": "json"}, name="config-download-json"),
]
