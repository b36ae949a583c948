"""`Cache-Control: no-store` on every response the site sends: pages, the login page, redirects,
errors and the API alike. Provider, vault, audit and token data must not stay in a browser's or
a proxy's cache (spec §7); a stricter header already set (the admin's never_cache) is kept."""

from __future__ import annotations


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response
