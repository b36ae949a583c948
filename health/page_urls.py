from django.urls import path

from health.pages import RunAllChecksPage, TestProviderPage

urlpatterns = [
    path("providers/<str:provider_id>/test/", TestProviderPage.as_view(), name="provider-test-page"),
    path("checks/run-all/", RunAllChecksPage.as_view(), name="run-all-checks"),
]
