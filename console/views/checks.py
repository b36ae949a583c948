"""The page buttons: Test one provider, Run all checks (spec §4.4).

Both are plain forms that post and redirect back with a message, so they work without
JavaScript. `static/js/checks.js` posts the same forms with `Accept: application/json` and gets
JSON instead, so the page never leaves:

- Test (`POST /providers/<id>/test/`) probes one provider synchronously through `run_checks`
  (one probe, bounded by the provider's timeout) and answers the result: pass or fail, latency,
  the reason and what to do. 404 for an unknown provider (or one the user may not view), 403
  for a viewer, 409 for an archived provider.
- Run all (`POST /checks/run-all/`) never waits for a probe: it starts the run in the background
  (`health.background.start_run`, behind the database lease lock) and answers 202 with the run's
  id, who started it, when, and the providers it checks. A second Run all while one is going is
  refused (409) with who started the running one and when.
- `GET /checks/runs/<run_id>/` answers a run's progress and, failures first, its results (from
  the run's `provider.tested` events); the page asks it when a run ends, and when it was loaded
  while a run was going.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts.permissions import require_page_permission
from audit.models import AuditEvent
from health.background import RunInProgress, current_run, start_run
from health.runner import providers_to_check, run_checks
from health.serializers import check_result
from providers.models import Provider

TEST_PERMISSION = "providers.test_provider"
VIEW_PERMISSION = "providers.view_provider"
VIEWER_LOCKED = "Viewers cannot change providers"


def _back(request, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = fallback
    return HttpResponseRedirect(target)


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def describe(check, name: str) -> str:
    if check.ok:
        return f"{name}: pass in {check.latency_ms} ms"
    return f"{name}: {check.error_code} — {check.error_message}"


def check_json(check, provider: Provider) -> dict[str, Any]:
    """The API's check result (`health.serializers.check_result`), with what the page shows:
    the provider's name, its status after the check and the toast's sentence."""
    return {
        **check_result(check),
        "name": provider.name,
        "provider_status": check.provider_status,
        "message": describe(check, provider.name),
    }


class TestProviderPage(LoginRequiredMixin, View):
    def post(self, request, provider_id: str):
        as_json = wants_json(request)
        try:
            provider = get_object_or_404(Provider, pk=provider_id)
            require_page_permission(request.user, TEST_PERMISSION, provider)
        except Http404:
            if as_json:
                return _error(HTTPStatus.NOT_FOUND, f"No provider {provider_id!r}.")
            raise
        except PermissionDenied:
            if as_json:
                return _error(HTTPStatus.FORBIDDEN, f"{VIEWER_LOCKED}: testing needs the admin role.")
            raise
        if provider.is_archived:
            message = f"{provider.name} is archived; restore it before testing it."
            if as_json:
                return _error(HTTPStatus.CONFLICT, message, provider_id=provider.pk)
            messages.error(request, message)
            return _back(request, reverse("provider-detail", args=[provider.pk]))
        check = run_checks([provider], actor=request.user).checks[0]
        if as_json:
            return JsonResponse(check_json(check, provider))
        (messages.success if check.ok else messages.error)(request, describe(check, provider.name))
        return _back(request, reverse("provider-detail", args=[provider.pk]))


class RunAllChecksPage(LoginRequiredMixin, View):
    def post(self, request):
        as_json = wants_json(request)
        if not request.user.has_perm(TEST_PERMISSION):
            if as_json:
                return _error(HTTPStatus.FORBIDDEN, f"{VIEWER_LOCKED}: running checks needs the admin role.")
            raise PermissionDenied("Running checks needs the admin role.")
        providers = providers_to_check()
        if not providers:
            message = "No enabled providers to check."
            if as_json:
                return _error(HTTPStatus.CONFLICT, message)
            messages.info(request, message)
            return _back(request, reverse("provider-list"))
        try:
            run = start_run(providers, actor=request.user)
        except RunInProgress as refused:
            running = refused.run.as_json() if refused.run else None
            if as_json:
                return _error(HTTPStatus.CONFLICT, str(refused), run=running)
            messages.error(request, str(refused))
            return _back(request, reverse("provider-list"))
        message = f"Started checking {run.total} provider{'s' if run.total != 1 else ''}; each card updates as its check ends."
        if as_json:
            return JsonResponse({**run.as_json(), "message": message, "status_url": _status_url(run.run_id)},
                                status=HTTPStatus.ACCEPTED)
        messages.success(request, message)
        return _back(request, reverse("provider-list"))


def _status_url(run_id: str) -> str:
    return reverse("check-run-status", args=[run_id])


def run_results(run_id: str) -> list[dict[str, Any]]:
    """The results of a run from its `provider.tested` events, failures first, then by name."""
    events = AuditEvent.objects.filter(event="provider.tested", payload__run_id=run_id).order_by("id")
    checks = {event.provider_id: event.payload.get("check", {}) for event in events}
    names = dict(Provider.objects.filter(pk__in=checks).values_list("pk", "name"))
    results = [
        {
            "provider_id": provider_id,
            "name": names.get(provider_id, provider_id),
            "ok": bool(check.get("ok")),
            "latency_ms": check.get("latency_ms"),
            "error_code": check.get("error_code"),
            "error_message": check.get("error_message"),
        }
        for provider_id, check in checks.items()
    ]
    results.sort(key=lambda r: (r["ok"], r["name"].lower(), r["provider_id"]))
    return results


class CheckRunStatus(LoginRequiredMixin, View):
    def get(self, request, run_id: str):
        if not request.user.has_perm(VIEW_PERMISSION):
            return _error(HTTPStatus.FORBIDDEN, "Seeing check runs needs a role.")
        if not run_id.isalnum() or len(run_id) > 32:
            return _error(HTTPStatus.BAD_REQUEST, "run_id: letters and digits only, at most 32.")
        running = current_run()
        is_running = running is not None and running.run_id == run_id
        results = run_results(run_id)
        if not results and not is_running:
            return _error(HTTPStatus.NOT_FOUND, f"No check run {run_id!r}.")
        passed = sum(1 for r in results if r["ok"])
        body = {
            "run_id": run_id,
            "running": is_running,
            "started_by": running.started_by if is_running else None,
            "total": running.total if is_running else None,
            "checked": len(results),
            "passed": passed,
            "failed": len(results) - passed,
            "results": results,
            "summary_html": render_to_string("console/_run_all_summary.html", {"results": results}),
        }
        return JsonResponse(body)
