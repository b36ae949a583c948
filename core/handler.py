"""Django's ASGI handler with the whole middleware chain and the view run in one thread hop.

Under ASGI, Django builds the middleware chain in async mode. Django's own middleware
(sessions, CSRF, authentication, messages, security, common, clickjacking) and django-csp
are `MiddlewareMixin` classes, which in async mode run each `process_request`,
`process_view` and `process_response` through its own `sync_to_async` call: 17 trips from
the event loop to the request's thread and back for one API request, each a queued work item,
a wake-up of the loop and two hand-overs of the GIL (daphne's CPU a request at 100 providers:
8.3 -> 5.5 ms; docs/performance.md). Every view of the site is synchronous, so the chain is
built in sync mode here, as under WSGI, and the event loop hands the request to its thread
once: the middleware run in the order and with the semantics they always have, on the thread
where the view runs (an async view would be run there through `async_to_sync`; the site has
none). What Django's handler does around the chain is unchanged: `request_started`, the
response's close (`request_finished`) and the 4xx/5xx log line each still take a trip of their
own. Websockets do not pass through here (config/asgi.py routes them to Channels).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

# Request threads kept idle for the next requests; more concurrent requests than this still
# get a thread each, which ends with its request.
MAX_IDLE_THREADS = 64


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        self._idle: list[ThreadPoolExecutor] = []
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        if is_async:
            # The request's own thread (the executor of its ThreadSensitiveContext, below).
            self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # As Django's handler: one thread for all of a request's sync code, never shared by two
        # requests at once. Django's starts a thread per request and another to join it at the
        # end; here a thread that finished its request serves the next one, as a WSGI server's
        # threads do (its database connection was closed or given back by request_finished).
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        except BaseException:
            # Cancelled or failed midway: the request's code may still be running on the thread,
            # so it is not given to another request; it ends when that code returns.
            executor.shutdown(wait=False)
            raise
        # handle() returned: its last trip to the thread (the response's close, or
        # request_finished after a client disconnected) ran after everything the request had
        # queued there, so the thread is idle.
        if len(self._idle) < MAX_IDLE_THREADS:
            self._idle.append(executor)
        else:
            executor.shutdown(wait=False)
