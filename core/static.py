"""WhiteNoise, without putting every request of the site on a thread.

WhiteNoise's middleware is synchronous only. Under ASGI, Django runs the middleware chain on the
event loop as far as every middleware allows it; one synchronous middleware near the top sends
each request from the loop to a new thread, back to the loop for the async-capable middleware
below it, then to a thread again for the view (three hops, one of which starts a thread). This
subclass is async-capable: a request for a static file is answered by WhiteNoise (its file
lookup is a dictionary read; the file itself is streamed by Django), and any other request goes
on down the chain without leaving the loop. docs/performance.md, "The provider API".
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, *args, **kwargs):
        super().__init__(get_response, *args, **kwargs)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        return await self.get_response(request)
