from django.urls import path

from secrets_vault.pages import SecretPanelPage

urlpatterns = [
    path("providers/<str:provider_id>/secret/", SecretPanelPage.as_view(), name="provider-secret-page"),
]
