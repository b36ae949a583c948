"""Middleware helpers: `Cache-Control: no-store` on every response, and the base of a middleware
that Django may call in either mode.

No-store: pages, the login page, redirects, errors and the API alike. Provider, vault, audit
and token data must not stay in a browser's or a proxy's cache (spec §7); a stricter header
already set (the admin's never_cache) is kept.

Either mode: the site under daphne builds its chain in sync mode and runs it, view included, on
the request's thread in one hop (core/handler.py); Django's async test client and any ASGI
handler of Django's own build it in async mode, where a synchronous-only middleware would send
each request from the loop to a thread and back once more. The site's own middleware are
therefore all `SyncAndAsyncMiddleware` (core/static.py for WhiteNoise), so no mode is forced on
the chain by one of them."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class SyncAndAsyncMiddleware:
    """Subclasses write `handle(request)` for the synchronous chain and `ahandle(request)` (a
    coroutine) for the asynchronous one; Django picks the mode by the middleware below."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        return self.ahandle(request) if self.is_async else self.handle(request)

    def handle(self, request):
        raise NotImplementedError

    async def ahandle(self, request):
        raise NotImplementedError


class NoStoreMiddleware(SyncAndAsyncMiddleware):
    def handle(self, request):
        return self.no_store(self.get_response(request))

    async def ahandle(self, request):
        return self.no_store(await self.get_response(request))

    @staticmethod
    def no_store(response):
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response
