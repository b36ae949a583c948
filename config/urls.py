from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from console.api import ApiRootView
from core.api import api_not_found

urlpatterns = [
    # /healthz, /readyz, /metrics and /api/config: before the API catch-all and the console.
    path("", include("operations.urls")),
    path("admin/", admin.site.urls),
    path("api/", ApiRootView.as_view(), name="api-root"),
    # Health and vault endpoints live under /api/providers/{id}/… but belong to their apps;
    # they come before the provider router so their paths win.
    path("api/", include("health.urls")),
    path("api/", include("secrets_vault.urls")),
    path("api/", include("audit.urls")),
    path("api/", include("console.api_urls")),
    path("api/", include("alerts.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (`?script`), not inline: the Content
    # Security Policy runs no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    # Anything else under /api/ (an id that cannot be one, a mistyped path): a JSON 404.
    re_path(r"^api/", api_not_found, name="api-not-found"),
    # The alert pages (alerts/pages.py): the console links them by URL name, never by import.
    path("", include("alerts.urls")),
    path("", include("console.urls")),
    path("", include("accounts.urls")),
]
