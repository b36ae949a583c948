"""The vault's API paths; config/urls.py includes them under "api/"."""

from django.urls import path

from secrets_vault.views import SecretActionView, SecretVersionListView

urlpatterns = [
    path("providers/<str:provider_id>/secret", SecretActionView.as_view(), name="provider-secret"),
    path(
        "providers/<str:provider_id>/secret/versions",
        SecretVersionListView.as_view(),
        name="provider-secret-versions",
    ),
]
