"""One access-log line per request, on the `access` logger; and the request's log context.

Placed first in `MIDDLEWARE`, so it times and logs every response, the ones other middleware
answer by themselves (a redirect to HTTPS, a static file) included. The line carries the
method, the path (never the query string, which can carry a credential), the status, the
duration until the response was returned (a streamed body may take longer), the request id
(`X-Request-ID`) and the user, as fields for the JSON format and in the message for the plain
one.

daphne's own access log is not used: it writes the whole URI, query string included, straight
to standard output, past the logging filters (docs/deploy.md runs daphne with `-v 0`).
Websockets never pass through Django's middleware: `WebsocketAccessLog` wraps their ASGI
application (config/asgi.py) and writes a line when the handshake is answered (101 accepted,
403 refused) and one when an accepted socket closes, with how long it was open.

Callable in either mode (core/middleware.py). Under daphne it runs on the request's thread with
the rest of the chain (core/handler.py), so the duration starts when the request reaches that
thread.
"""

from __future__ import annotations

import logging
import time

from core.logcontext import request_context, request_fields
from core.middleware import SyncAndAsyncMiddleware

logger = logging.getLogger("access")


class AccessLogMiddleware(SyncAndAsyncMiddleware):
    def handle(self, request):
        started = time.perf_counter()
        with request_context(request):
            response = self.get_response(request)
        log_access(request, response, started)
        return response

    async def ahandle(self, request):
        started = time.perf_counter()
        with request_context(request):
            response = await self.get_response(request)
        log_access(request, response, started)
        return response


def log_access(request, response, started: float) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    fields = request_fields(request)
    fields["request_id"] = fields["request_id"] or response.get("X-Request-ID")
    logger.info(
        "%s %s %s %.1f ms request_id=%s user=%s",
        fields["method"],
        fields["path"],
        response.status_code,
        duration_ms,
        fields["request_id"] or "-",
        fields["user"] or "-",
        extra={**fields, "status": response.status_code, "duration_ms": duration_ms},
    )


class WebsocketAccessLog:
    """ASGI middleware for the websocket router: the handshake's answer and the socket's end."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        started = time.perf_counter()
        path = scope.get("path", "")
        accepted = False
        answered = False

        async def logging_send(message):
            nonlocal accepted, answered
            kind = message.get("type")
            if not answered and kind in ("websocket.accept", "websocket.close"):
                answered, accepted = True, kind == "websocket.accept"
                _log_websocket(path, 101 if accepted else 403, started, "accepted" if accepted else "refused")
            await send(message)

        try:
            await self.app(scope, receive, logging_send)
        finally:
            if accepted:
                _log_websocket(path, 101, started, "closed")


def _log_websocket(path: str, status: int, started: float, what: str) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    logger.info(
        "WEBSOCKET %s %s %s after %.1f ms",
        path, status, what, duration_ms,
        # The path only: a query string can carry a credential.
        extra={"method": "WEBSOCKET", "path": path, "status": status, "event": what, "duration_ms": duration_ms},
    )
