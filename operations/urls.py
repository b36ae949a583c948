"""What a platform team's tooling calls: liveness and readiness, Prometheus metrics, the
configuration as code (API.md, "Operations")."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
