"""What a platform team's tooling calls: liveness and readiness, Prometheus metrics, the
configuration as code (API.md, "Operations")."""

from django.urls import path  # noqa: F401

from operations.metrics_view import metrics

urlpatterns: list = [
    path("metrics", metrics, name="metrics"),
]
