"""One exception handler for the API: DRF's shapes, plus the cases DRF leaves to a 500."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        # Model-level validation that slipped past a serializer is still the client's error.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": " ".join(exc.messages)}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(response.data)
        if response.status_code == status.HTTP_401_UNAUTHORIZED:
            response.headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    return response


def error_body(data: Any) -> Any:
    """The two error shapes of API.md, whatever was raised: `{"detail": "text"}` or
    `{"field": ["text", …]}`; never a list in `detail`, never a bare list or string.

    A serializer's errors are changed in place, so the browsable API still finds the
    serializer on them and renders the failed form with its inline errors.
    """
    if isinstance(data, (list, tuple)):  # ValidationError("text") or ValidationError([...])
        return {"detail": _joined(data)}
    if not isinstance(data, dict):
        return {"detail": str(data)}
    for key, value in data.items():
        if key == "detail":
            if not isinstance(value, str):
                data[key] = _joined(value)
        elif isinstance(value, str):
            data[key] = [value]
    return data


def _joined(messages: Any) -> str:
    if isinstance(messages, dict):
        messages = [f"{key}: {_joined(value)}" for key, value in messages.items()]
    elif isinstance(messages, str):
        return messages
    return " ".join(_joined(message) if isinstance(message, (dict, list)) else str(message) for message in messages)


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The provider changed since you loaded it; reload and try again."
    default_code = "precondition_failed"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"

