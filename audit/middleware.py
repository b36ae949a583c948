"""Gives each request an id, kept for the audit rows it writes and echoed in `X-Request-ID`.

The id is always generated here: a client could otherwise pick the id of someone else's
request and make audit rows look related. A well-formed `X-Request-ID` sent by the client is
kept beside it, as `client_request_id`, for the client's own correlation.
"""

from __future__ import annotations

import contextvars
import re
import uuid

from core.middleware import SyncAndAsyncMiddleware

_current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_current_client_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_request_id", default=None
)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str | None:
    return _current_request_id.get()


def current_client_request_id() -> str | None:
    return _current_client_request_id.get()


class RequestIdMiddleware(SyncAndAsyncMiddleware):
    # The context variables reach the view's thread, which asgiref runs in a copy of the context.
    def handle(self, request):
        tokens = self._begin(request)
        try:
            response = self.get_response(request)
        finally:
            self._end(tokens)
        response["X-Request-ID"] = request.request_id
        return response

    async def ahandle(self, request):
        tokens = self._begin(request)
        try:
            response = await self.get_response(request)
        finally:
            self._end(tokens)
        response["X-Request-ID"] = request.request_id
        return response

    @staticmethod
    def _begin(request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = uuid.uuid4().hex
        request.client_request_id = client_id = incoming if _SAFE_ID.match(incoming) else None
        return _current_request_id.set(request.request_id), _current_client_request_id.set(client_id)

    @staticmethod
    def _end(tokens) -> None:
        token, client_token = tokens
        _current_client_request_id.reset(client_token)
        _current_request_id.reset(token)
