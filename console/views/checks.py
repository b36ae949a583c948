"""The page buttons: Test one provider, Run all checks (spec §4.4).

Plain forms that post and redirect back with a message, so they work without JavaScript;
both go through `run_checks`, like the API and `manage.py run_checks`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts.permissions import require_page_permission
from health.runner import providers_to_check, run_checks
from providers.models import Provider

TEST_PERMISSION = "providers.test_provider"


def _back(request, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = fallback
    return HttpResponseRedirect(target)


def describe(check, name: str) -> str:
    if check.ok:
        return f"{name}: pass in {check.latency_ms} ms"
    return f"{name}: {check.error_code} — {check.error_message}"


class TestProviderPage(LoginRequiredMixin, View):
    def post(self, request, provider_id: str):
        provider = get_object_or_404(Provider, pk=provider_id)
        user = request.user
        require_page_permission(user, TEST_PERMISSION, provider)
        back = _back(request, reverse("provider-detail", args=[provider.pk]))
        if provider.is_archived:
            messages.error(request, f"{provider.name} is archived; restore it before testing it.")
            return back
        check = run_checks([provider], actor=user).checks[0]
        (messages.success if check.ok else messages.error)(request, describe(check, provider.name))
        return back


class RunAllChecksPage(LoginRequiredMixin, View):
    def post(self, request):
        if not request.user.has_perm(TEST_PERMISSION):
            raise PermissionDenied("Running checks needs the admin role.")
        result = run_checks(providers_to_check(), actor=request.user)
        summary = f"Checked {result.checked}: {result.passed} passed, {result.failed} failed in {result.duration_ms} ms."
        failures = [describe(c, c.provider_id) for c in result.checks if not c.ok]
        (messages.error if failures else messages.success)(request, " ".join([summary, *failures]))
        return _back(request, reverse("provider-list"))
