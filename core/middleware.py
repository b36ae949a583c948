"""`Cache-Control: no-store` on every response the site sends: pages, the login page, redirects,
errors and the API alike. Provider, vault, audit and token data must not stay in a browser's or
a proxy's cache (spec §7); a stricter header already set (the admin's never_cache) is kept.

Sync and async capable, so under ASGI it runs on the event loop and adds no thread hop
(core/static.py says why that matters)."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class NoStoreMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        return self.no_store(self.get_response(request))

    async def _acall(self, request):
        return self.no_store(await self.get_response(request))

    @staticmethod
    def no_store(response):
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response
