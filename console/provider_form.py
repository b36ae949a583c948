"""The console's provider form: the page's fields in, the API's validation out.

A form posts plain fields; `parse_form` turns them into the body a `POST /api/providers` or a
`PATCH` would carry (JSON text areas decoded, fallback models one per line), and
`validate` runs `ProviderFieldsSerializer` on it, so the page refuses exactly what the API refuses
and shows the API's messages next to each field.
"""

from __future__ import annotations

import json
from typing import Any

from providers.models import DEFAULT_SECRET_POLICY, OPERATOR_STATUSES, Kind, Provider, SecretPolicy
from providers.serializers import ProviderFieldsSerializer

NON_FIELD = "__all__"
TEXT_FIELDS = ("name", "display_name", "kind", "endpoint", "default_model", "status", "secret_policy")
NUMBER_FIELDS = ("priority", "retries", "timeout_ms", "tool_timeout_ms")
JSON_FIELDS = ("capabilities", "metadata")
# What moves the routing chain: a change to one of these redraws the preview beside the form.
ROUTING_FIELDS = ("priority", "status", "enabled", "secret_policy", "default_model", "fallback_models")

HELP = {
    "id": "Fixed at creation: 1 to 63 lowercase letters, digits, '-' or '_'. It is the provider's URL.",
    "name": "Unique short name, shown in events and the chain.",
    "display_name": "Optional longer name shown on cards.",
    "kind": "The protocol the endpoint speaks; it decides how health checks and model discovery ask it.",
    "endpoint": "http:// or https:// URL of the API root, without credentials (set those with the Secret action).",
    "default_model": "The model requests go to first.",
    "fallback_models": "Models tried after the default one, in order: one per line.",
    "status": "active serves first; standby serves when no active provider can; disabled takes it out of the chain.",
    "priority": "Lower comes first within its tier (active, then standby).",
    "secret_policy": "required: not used without a stored secret; optional: used either way; none: never sends one.",
    "retries": "Retries of a failed request (0 to 10).",
    "timeout_ms": "Deadline of one request, in milliseconds.",
    "tool_timeout_ms": "Deadline of a tool call, in milliseconds.",
    "capabilities": "JSON object, e.g. {\"tools\": true, \"max_context\": 128000}.",
    "metadata": "JSON object of non-sensitive labels, e.g. {\"region\": \"us-east\"}; never a key or token.",
}

KIND_CHOICES = Kind.choices
STATUS_CHOICES = [(s.value, s.value) for s in OPERATOR_STATUSES]
POLICY_CHOICES = [(p.value, p.value) for p in SecretPolicy]
KIND_DEFAULT_POLICY = {str(k): str(p) for k, p in DEFAULT_SECRET_POLICY.items()}


def initial_values(provider: Provider | None = None, kind: str | None = None) -> dict[str, str]:
    """The form's fields as text: a provider's values, or the API's defaults for a new one."""
    if provider is None:
        kind = kind if kind in dict(KIND_CHOICES) else Kind.OPENAI_COMPATIBLE.value
        template = Provider(kind=kind)
        template.fill_defaults()
        values = {name: "" for name in ("id", "name", "display_name", "endpoint", "default_model")}
        values.update(kind=kind, status="active", secret_policy=template.secret_policy)
        source = template
    else:
        values = {name: str(getattr(provider, name) or "") for name in ("id", *TEXT_FIELDS)}
        values["status"] = provider.operator_status()
        source = provider
    for name in NUMBER_FIELDS:
        values[name] = str(getattr(source, name))
    values["fallback_models"] = "\n".join(source.fallback_models or [])
    for name in JSON_FIELDS:
        value = getattr(source, name) or {}
        values[name] = json.dumps(value, indent=2) if value else ""
    return values


def submitted_values(post) -> dict[str, str]:
    """What the operator typed, to render the form again exactly as sent."""
    names = ("id", *TEXT_FIELDS, *NUMBER_FIELDS, "fallback_models", *JSON_FIELDS)
    return {name: post.get(name, "") for name in names}


def parse_form(post, *, creating: bool) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(the API body, errors of fields that are not even JSON). Blank optional fields are left
    out on create (the API's defaults apply) and sent as they are on edit."""
    body: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    names = (("id",) if creating else ()) + TEXT_FIELDS + NUMBER_FIELDS
    for name in names:
        if name not in post:
            continue
        value = post.get(name, "")
        if creating and value == "" and name in ("display_name", "secret_policy", "status", *NUMBER_FIELDS):
            continue
        body[name] = value.strip() if name in NUMBER_FIELDS else value
    if "fallback_models" in post:
        body["fallback_models"] = [line.strip() for line in post.get("fallback_models", "").splitlines() if line.strip()]
    for name in JSON_FIELDS:
        if name not in post:
            continue
        text = post.get(name, "").strip()
        if not text:
            body[name] = {}
            continue
        try:
            body[name] = json.loads(text)
        except (ValueError, RecursionError) as exc:
            errors[name] = [f"Not valid JSON: {exc}" if isinstance(exc, ValueError) else "Not valid JSON: nested too deep."]
    return body, errors


def drop_unchanged_status(body: dict[str, Any], provider: Provider) -> None:
    """An edit sends `status` only when the operator changed it: the form shows the operator's
    status (active, standby, disabled), and sending it back unchanged would clear a health
    overlay (degraded, unreachable) that only the next check may lift."""
    if body.get("status") == provider.operator_status():
        del body["status"]


def flatten_errors(errors: Any) -> dict[str, list[str]]:
    """DRF's error dict as field → messages (nested messages joined), `__all__` for the rest."""
    flat: dict[str, list[str]] = {}
    for field, messages in (errors.items() if isinstance(errors, dict) else [(NON_FIELD, errors)]):
        key = NON_FIELD if field in ("non_field_errors", "detail") else field
        flat.setdefault(key, []).extend(_messages(messages))
    return flat


def _messages(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _messages(v)]
    if isinstance(value, (list, tuple)):
        return [m for item in value for m in _messages(item)]
    return [str(value)]


def validate(body: dict[str, Any], provider: Provider | None, request) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """`ProviderFieldsSerializer` on the body, as the API's create (provider None) or PATCH runs it."""
    if provider is None:
        serializer = ProviderFieldsSerializer(data=body, context={"request": request})
    else:
        serializer = ProviderFieldsSerializer(provider, data=body, partial=True, context={"request": request})
    if serializer.is_valid():
        return dict(serializer.validated_data), {}
    return None, flatten_errors(serializer.errors)
