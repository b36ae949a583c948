from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api import ApiRootView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", ApiRootView.as_view(), name="api-root"),
    # Health and vault endpoints live under /api/providers/{id}/… but belong to their apps;
    # they come before the provider router so their paths win.
    path("api/", include("health.urls")),
    path("api/", include("secrets_vault.urls")),
    path("api/", include("audit.urls")),
    path("api/", include("providers.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("accounts.urls")),
    path("", include("health.page_urls")),
    path("", include("secrets_vault.page_urls")),
    path("", include("providers.urls")),
]
