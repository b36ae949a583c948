"""WhiteNoise, without putting every request of the site on a thread.

WhiteNoise's middleware is synchronous only; in a chain built in async mode it would send every
request, static or not, through two extra thread hops (core/middleware.py says why). This
subclass may be called in either mode: a request for a static file is answered by WhiteNoise (its
lookup is a dictionary read; Django streams the file), and any other request goes on down the
chain. Under daphne the chain is synchronous, on the request's thread (core/handler.py).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware

from core.middleware import SyncAndAsyncMiddleware


class StaticFilesMiddleware(SyncAndAsyncMiddleware, WhiteNoiseMiddleware):
    def __init__(self, get_response=None, *args, **kwargs):
        WhiteNoiseMiddleware.__init__(self, get_response, *args, **kwargs)
        SyncAndAsyncMiddleware.__init__(self, get_response)

    def handle(self, request):
        return WhiteNoiseMiddleware.__call__(self, request)

    async def ahandle(self, request):
        if self.autorefresh:  # development only: looks on the disk
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        return await self.get_response(request)
