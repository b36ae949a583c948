from django.urls import path

from console.views import editing
from console.views.checks import CheckRunStatus, RunAllChecksPage, TestProviderPage
from console.views.events import EventsPage
from console.views.providers import ProviderDetailPage, ProviderListPage
from console.views.secrets import SecretPanelPage
from console.views.site import favicon

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    # Changing providers (console/views/editing.py); outside /providers/<id>/ so no id is shadowed.
    path("new-provider/", editing.create_provider, name="console-provider-create"),
    path("archived/", editing.archived_providers, name="console-archived-providers"),
    path("provider-form/preview/", editing.preview, name="console-provider-preview"),
    path("provider-form/discover/", editing.discover, name="console-provider-discover"),
    path("provider-form/test/", editing.test_before_save, name="console-provider-test-unsaved"),
    path("providers/<str:provider_id>/edit/", editing.edit_provider, name="console-provider-edit"),
    path("providers/<str:provider_id>/archive/", editing.archive_provider, name="console-provider-archive"),
    path("providers/<str:provider_id>/restore/", editing.restore_provider, name="console-provider-restore"),
    path("events/", EventsPage.as_view(), name="events-page"),
    # Test one provider, Run all checks (console/views/checks.py).
    path("providers/<str:provider_id>/test/", TestProviderPage.as_view(), name="provider-test-page"),
    path("checks/run-all/", RunAllChecksPage.as_view(), name="run-all-checks"),
    path("checks/runs/<str:run_id>/", CheckRunStatus.as_view(), name="check-run-status"),
    # The secret panel (console/views/secrets.py).
    path("providers/<str:provider_id>/secret/", SecretPanelPage.as_view(), name="provider-secret-page"),
    # The provider list with the routing chain, a provider's page (console/views/providers.py).
    path("", ProviderListPage.as_view(), name="provider-list"),
    path("providers/<str:provider_id>/", ProviderDetailPage.as_view(), name="provider-detail"),
]
