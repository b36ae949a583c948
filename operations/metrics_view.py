"""`GET /metrics`: the fleet in the Prometheus text format, for a scraper or a viewer.

Who may read it (docs/metrics.md):

- a scraper with `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time; the token
  is a setting, no user behind it);
- a user with the global view permission on providers (the `viewer` and `admin` roles), signed
  in (session) or with one of the API's own bearer tokens.

Anyone else: no credentials → 401 with `WWW-Authenticate: Bearer`; a bearer token that is
neither → 401; a signed-in user without the global view permission → 403. That includes a user
with only delegated providers: the metrics are the whole fleet's, which such a user may not
read, and a fixed, documented path has nothing to hide behind a 404.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework import exceptions

from accounts.authentication import BearerTokenAuthentication
from operations.metrics import fleet_registry

VIEW_PERMISSION = "providers.view_provider"
CHALLENGE = 'Bearer realm="metrics"'


def _bearer(request: HttpRequest) -> str | None:
    parts = request.headers.get("Authorization", "").split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    return None


def _is_metrics_token(presented: str) -> bool:
    expected = settings.METRICS_TOKEN
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


def _denied(status: int, reason: str) -> HttpResponse:
    response = HttpResponse(reason + "\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response["WWW-Authenticate"] = CHALLENGE
    return response


def _access(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics, otherwise the answer that refuses it."""
    presented = _bearer(request)
    if presented is not None and _is_metrics_token(presented):
        return None
    user = request.user
    if request.headers.get("Authorization"):
        try:
            found = BearerTokenAuthentication().authenticate(request)
        except exceptions.AuthenticationFailed:
            return _denied(401, "Invalid token.")
        if found is None:  # another scheme (Basic, …): not one this endpoint takes
            return _denied(401, "Use 'Authorization: Bearer <token>'.")
        user = found[0]
    if user is None or not user.is_authenticated:
        return _denied(401, "Authentication required.")
    if not user.has_perm(VIEW_PERMISSION):
        return _denied(403, "The metrics are the whole fleet's: they need the viewer or admin role.")
    return None


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    refused = _access(request)
    if refused is not None:
        return refused
    response = HttpResponse(generate_latest(fleet_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
