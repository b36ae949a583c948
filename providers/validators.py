"""Field rules of a provider (spec §3.1, API.md), shared by the model, the API and the pages."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator

PROVIDER_ID_RE = r"^[a-z0-9][a-z0-9_-]{0,62}$"
validate_provider_id = RegexValidator(
    PROVIDER_ID_RE,
    "Use 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
)

# Words that name a route beside /api/providers/<id> or /providers/<id>/: a provider with such
# an id would be unreachable at its own URLs. tests/test_reserved_ids.py checks that every
# literal sibling route is listed here, so a new one cannot be forgotten.
RESERVED_PROVIDER_IDS = frozenset({"test-all"})


def validate_provider_id_not_reserved(value: str) -> None:
    if value in RESERVED_PROVIDER_IDS:
        raise ValidationError(
            f"'{value}' is reserved: it names a route under /api/providers/. Choose another id.",
            code="reserved",
        )


MODEL_NAME_MAX = 200
FALLBACK_MODELS_MAX = 20
JSON_OBJECT_MAX_BYTES = 8192
JSON_OBJECT_MAX_KEYS = 50
JSON_KEY_MAX = 64

PRIORITY_RANGE = (0, 1_000_000)
RETRIES_RANGE = (0, 10)
TIMEOUT_MS_RANGE = (100, 600_000)
TOOL_TIMEOUT_MS_RANGE = (100, 3_600_000)

# A metadata key containing any of these is a credential in the wrong place (API.md).
CREDENTIAL_KEY_WORDS = ("key", "token", "secret", "password", "auth", "credential")

_url_validator = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")


# A query or fragment parameter whose name contains one of these carries a credential
# (`?api_key=`, `?access_token=`, `#auth=`); the short ones must be the whole name (`?sig=`).
CREDENTIAL_PARAM_WORDS = (*CREDENTIAL_KEY_WORDS, "signature", "apikey")
CREDENTIAL_PARAM_NAMES = ("sig", "pwd", "pass", "passwd", "jwt", "bearer", "session", "sessionid")

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")  # a name worth quoting back (never a whole key)
ENDPOINT_CREDENTIALS_HINT = (
    "The endpoint is shown to viewers and kept in clear: store the credential with the "
    "provider's Secret action instead."
)


def credential_in_url(value: str) -> str | None:
    """What in the URL carries a credential ("user:password@" or a parameter's name), or None."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return None  # not a URL at all: the URL validator says so
    if "@" in parts.netloc:
        return "user:password@"
    for component in (parts.query, parts.fragment):
        for name, _ in parse_qsl(component, keep_blank_values=True):
            normalized = re.sub(r"[^a-z0-9]", "", name.lower())
            if normalized in CREDENTIAL_PARAM_NAMES or any(word in normalized for word in CREDENTIAL_PARAM_WORDS):
                return f"parameter '{name}'" if _PLAIN_NAME.fullmatch(name) else "a parameter named like one"
    return None


def validate_endpoint(value: str) -> None:
    # Credentials first: a URL refused for them must say so, whatever else is wrong with it.
    # The message says where the credential is, never its value.
    found = credential_in_url(value) if isinstance(value, str) else None
    if found:
        raise ValidationError(
            f"Remove the credential from the endpoint URL ({found}). {ENDPOINT_CREDENTIALS_HINT}",
            code="credentials_in_url",
        )
    _url_validator(value)


def validate_model_name(value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("A model name is a non-empty string.", code="invalid")
    if value != value.strip():
        raise ValidationError("A model name has no leading or trailing spaces.", code="invalid")
    if len(value) > MODEL_NAME_MAX:
        raise ValidationError(f"A model name is at most {MODEL_NAME_MAX} characters.", code="max_length")


def validate_fallback_models(value: Any, default_model: str | None = None) -> None:
    if not isinstance(value, list):
        raise ValidationError("Expected an ordered list of model names.", code="invalid")
    if len(value) > FALLBACK_MODELS_MAX:
        raise ValidationError(f"At most {FALLBACK_MODELS_MAX} fallback models.", code="max_length")
    seen: set[str] = set()
    for name in value:
        validate_model_name(name)
        if name in seen:
            raise ValidationError(f"'{name}' is listed twice.", code="duplicate")
        seen.add(name)
    if default_model and default_model in seen:
        raise ValidationError(
            f"'{default_model}' is already the default model; fallbacks are the models tried after it.",
            code="repeats_default",
        )


def _check_json_object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a JSON object.", code="invalid")
    if len(value) > JSON_OBJECT_MAX_KEYS:
        raise ValidationError(f"{what} has at most {JSON_OBJECT_MAX_KEYS} keys.", code="max_keys")
    if len(json.dumps(value, separators=(",", ":"))) > JSON_OBJECT_MAX_BYTES:
        raise ValidationError(f"{what} is at most {JSON_OBJECT_MAX_BYTES} bytes of JSON.", code="too_large")
    for key in value:
        if not key or len(key) > JSON_KEY_MAX:
            raise ValidationError(f"{what} keys are 1 to {JSON_KEY_MAX} characters.", code="invalid_key")
    _check_storable_text(value, what)
    return value


def _unstorable(text: str) -> bool:
    """A NUL character or a lone surrogate: JSON can carry both, but PostgreSQL's jsonb refuses
    the first and UTF-8 cannot encode the second (as DRF's text fields refuse them)."""
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


def _check_storable_text(value: Any, what: str) -> None:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and _unstorable(item):
            raise ValidationError(
                f"{what} may not contain NUL characters or unpaired surrogates.", code="invalid_characters"
            )


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def validate_capabilities(value: Any) -> None:
    _check_json_object(value, "Capabilities")


def validate_metadata(value: Any) -> None:
    _check_json_object(value, "Metadata")
    for key, item in value.items():
        lowered = key.lower()
        if any(word in lowered for word in CREDENTIAL_KEY_WORDS):
            raise ValidationError(
                f"'{key}' looks like a credential. Metadata is shown to viewers and kept in clear: "
                "store credentials with the provider's Secret action instead.",
                code="credential_in_metadata",
            )
        flat = _is_scalar(item) or (isinstance(item, list) and all(_is_scalar(x) for x in item))
        if not flat:
            raise ValidationError(
                f"'{key}': metadata values are strings, numbers, booleans, null or lists of those.",
                code="not_flat",
            )
