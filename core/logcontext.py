"""The request a log line was emitted in, for the logs' `request_id`, `user` and `path`.

`core.accesslog.AccessLogMiddleware` (the outermost middleware) puts the request in a context
variable for the time the request is handled. Context variables follow the request where
Django takes it: under ASGI (daphne) sync views run in asgiref's thread pool through
`sync_to_async`, which copies the context into the thread, so a line logged by a view carries
its request as well as a line logged by the middleware itself.

`RequestContextFilter` copies the context onto each record before the handler formats it.
It runs before the vault's masking filter (`LOGGING` in config/settings.py lists it first), so
what it adds is masked like any other field.
"""

from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager

from django.http import HttpRequest
from django.utils.functional import empty

_current_request: contextvars.ContextVar = contextvars.ContextVar("log_request", default=None)


@contextmanager
def request_context(request):
    token = _current_request.set(request)
    try:
        yield
    finally:
        _current_request.reset(token)


def current_request():
    return _current_request.get()


def request_user(request) -> str | None:
    """The signed-in user's name, if the request has already found out who it is.

    Never resolves a lazy user: that would run the session and user queries inside a logging
    call (which django.db.backends may log in turn) for a request that did not need them.
    DRF's authentication replaces the lazy object with the user itself.
    """
    user = request.__dict__.get("user")
    if user is None:
        return None
    if getattr(user, "_wrapped", None) is empty:
        return None
    if not getattr(user, "is_authenticated", False):
        return None
    return user.get_username()


def request_fields(request) -> dict[str, str | None]:
    return {
        # Set by audit.middleware.RequestIdMiddleware, inside this middleware.
        "request_id": getattr(request, "request_id", None),
        "user": request_user(request),
        # The path only: a query string can carry a credential (`?api_key=…`).
        "path": request.path,
        "method": request.method,
    }


class RequestContextFilter(logging.Filter):
    """Adds `request_id`, `user`, `path` and `method` to records emitted during a request.

    Fields the caller passed itself (`extra=`) are kept as they are. Django's `django.request`
    lines (a 4xx or 5xx answer) are logged after the middleware has returned, but they carry
    their request (`extra={"request": …}`), which is used instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            request = _current_request.get()
        if request is not None:
            for name, value in request_fields(request).items():
                if value is not None and not hasattr(record, name):
                    setattr(record, name, value)
        return True
