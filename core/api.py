"""What API views share: no-store responses, and the JSON 404 for a path no endpoint serves."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt


class NoStoreMixin:
    """`Cache-Control: no-store` on every response of the view, errors included: provider,
    vault and audit data must not sit in a browser's or a proxy's cache (spec §7)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


@csrf_exempt  # it changes nothing; an unsafe method gets the same JSON 404, not the CSRF page
def api_not_found(request: HttpRequest) -> HttpResponse:
    """A path under /api/ that no endpoint serves: DRF's `{"detail": …}` 404, not Django's HTML
    page (API.md: JSON everywhere). A GET for a path that exists with a trailing slash is
    redirected there, as Django's APPEND_SLASH would have done without this route."""
    if request.method in ("GET", "HEAD") and not request.path_info.endswith("/"):
        try:
            match = resolve(f"{request.path_info}/", getattr(request, "urlconf", None))
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    response = JsonResponse({"detail": "Not found."}, status=404)
    response["Cache-Control"] = "no-store"
    return response
