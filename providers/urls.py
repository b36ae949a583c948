from django.urls import path

from providers.views import ProviderDetailPage, ProviderListPage

urlpatterns = [
    path("", ProviderListPage.as_view(), name="provider-list"),
    path("providers/<str:provider_id>/", ProviderDetailPage.as_view(), name="provider-detail"),
]
