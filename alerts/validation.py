"""The rules a channel's fields follow, shared by the API's serializer and the console's form.

`clean_channel(data, partial_of=None)` returns the cleaned fields or raises
`ValidationError({field: [message]})`: every problem at once, each naming its field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from alerts.models import MAX_COOLDOWN_S, SUBSCRIBABLE, AlertChannel, ChannelKind
from providers.models import Kind, Provider
from providers.validators import validate_provider_id

FIELDS = ("id", "name", "kind", "url", "email_to", "events", "providers", "kinds", "enabled", "cooldown_s")
EDITABLE = tuple(f for f in FIELDS if f not in ("id", "kind"))
MAX_RECIPIENTS = 20
MAX_URL = 2000


def _strings(value: Any, field: str, errors: dict[str, list[str]]) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors[field] = ["Must be a list of strings."]
        return None
    return list(dict.fromkeys(item.strip() for item in value if item.strip()))


def clean_channel(data: dict[str, Any], *, instance: AlertChannel | None = None) -> dict[str, Any]:
    """Validate `data` (all fields for a new channel; the changed ones for `instance`)."""
    errors: dict[str, list[str]] = {}
    merged = {f: getattr(instance, f) for f in FIELDS} if instance else {}
    merged.update(data)
    cleaned: dict[str, Any] = {}

    if instance is None:
        channel_id = merged.get("id")
        try:
            if not isinstance(channel_id, str):
                raise ValidationError("This field is required.")
            validate_provider_id(channel_id)
            if AlertChannel.objects.filter(pk=channel_id).exists():
                raise ValidationError(f"A channel with id {channel_id!r} already exists.")
            cleaned["id"] = channel_id
        except ValidationError as exc:
            errors["id"] = exc.messages
    else:
        for fixed in ("id", "kind"):
            if fixed in data and data[fixed] != getattr(instance, fixed):
                errors[fixed] = [f"The {fixed} of a channel cannot change; create another channel."]

    name = merged.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["This field is required."]
    elif len(name.strip()) > 100:
        errors["name"] = ["At most 100 characters."]
    else:
        cleaned["name"] = name.strip()

    kind = merged.get("kind")
    if kind not in ChannelKind.values:
        errors["kind"] = [f"One of: {', '.join(ChannelKind.values)}."]
    else:
        cleaned["kind"] = kind

    url = merged.get("url") or ""
    if not isinstance(url, str):
        errors["url"] = ["Must be a string."]
    elif kind in (ChannelKind.WEBHOOK, ChannelKind.SLACK):
        parts = urlsplit(url.strip())
        if not url.strip():
            errors["url"] = [f"A {kind} channel needs the URL it posts to."]
        elif parts.scheme not in ("http", "https") or not parts.hostname:
            errors["url"] = ["Must be an http:// or https:// URL with a host."]
        elif len(url) > MAX_URL:
            errors["url"] = [f"At most {MAX_URL} characters."]
        elif parts.username or parts.password:
            errors["url"] = ["Must not carry a user name or password; a webhook channel signs with its secret."]
        else:
            cleaned["url"] = url.strip()
    else:
        cleaned["url"] = ""

    recipients = _strings(merged.get("email_to", []), "email_to", errors)
    if recipients is not None:
        if kind == ChannelKind.EMAIL:
            bad = []
            for address in recipients:
                try:
                    validate_email(address)
                except ValidationError:
                    bad.append(address)
            if not recipients:
                errors["email_to"] = ["An email channel needs at least one address."]
            elif bad:
                errors["email_to"] = [f"Not an email address: {', '.join(bad[:5])}."]
            elif len(recipients) > MAX_RECIPIENTS:
                errors["email_to"] = [f"At most {MAX_RECIPIENTS} addresses."]
            else:
                cleaned["email_to"] = recipients
        else:
            cleaned["email_to"] = []

    events = _strings(merged.get("events", []), "events", errors)
    if events is not None:
        unknown = [e for e in events if e not in SUBSCRIBABLE]
        if unknown:
            errors["events"] = [f"Unknown alert {unknown[0]!r}; one of: {', '.join(SUBSCRIBABLE)}."]
        elif not events:
            errors["events"] = ["Choose at least one alert."]
        else:
            cleaned["events"] = events

    providers = _strings(merged.get("providers", []), "providers", errors)
    if providers is not None:
        known = set(Provider.objects.filter(pk__in=providers).values_list("pk", flat=True))
        missing = [p for p in providers if p not in known]
        if missing:
            errors["providers"] = [f"No provider {missing[0]!r}."]
        else:
            cleaned["providers"] = providers

    kinds = _strings(merged.get("kinds", []), "kinds", errors)
    if kinds is not None:
        unknown = [k for k in kinds if k not in Kind.values]
        if unknown:
            errors["kinds"] = [f"Unknown kind {unknown[0]!r}; one of: {', '.join(Kind.values)}."]
        else:
            cleaned["kinds"] = kinds

    enabled = merged.get("enabled", True)
    if not isinstance(enabled, bool):
        errors["enabled"] = ["Must be true or false."]
    else:
        cleaned["enabled"] = enabled

    cooldown = merged.get("cooldown_s", 300)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or not 0 <= cooldown <= MAX_COOLDOWN_S:
        errors["cooldown_s"] = [f"A whole number of seconds from 0 to {MAX_COOLDOWN_S}."]
    else:
        cleaned["cooldown_s"] = cooldown

    if errors:
        raise ValidationError(errors)
    if instance is not None:
        return {f: v for f, v in cleaned.items() if f in data and f in EDITABLE}
    return cleaned
