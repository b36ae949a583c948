"""The channel form of the alert pages: what the form's fields hold, read into the data
`alerts.services` takes, and back into the values a form shows.

This module only turns text into types (a line per recipient, ticked boxes into lists, the
cooldown's digits into a number). Every rule of a channel's fields is `clean_channel`'s
(alerts/validation.py), reached through the services, so the page refuses exactly what the
API refuses, with the same messages; a cooldown that is not a number is handed over as typed
for `clean_channel` to name.
"""

from __future__ import annotations

import re
from typing import Any

from alerts.models import DEFAULT_COOLDOWN_S, SUBSCRIBABLE, AlertChannel, AlertKind, ChannelKind
from providers.models import Kind, Provider

EVENT_CHOICES = [(value, AlertKind(value).label) for value in SUBSCRIBABLE]
CHANNEL_KIND_CHOICES = list(ChannelKind.choices)
PROVIDER_KIND_CHOICES = list(Kind.choices)
# Recipients are typed one per line; commas and semicolons separate them too.
RECIPIENT_SEPARATORS = re.compile(r"[\s,;]+")

HELP = {
    "kind": "Where alerts go. Fixed once the channel exists.",
    "id": "1 to 63 lowercase letters, digits, '-' or '_'. Fixed once the channel exists.",
    "name": "How the pages and the audit log name the channel.",
    "url": "Webhook and Slack: the https:// address alerts are POSTed to (no user name or password in it).",
    "email_to": "Email: one address per line.",
    "events": "The alerts this channel takes.",
    "providers": "Only alerts about these providers; none selected: every provider.",
    "kinds": "Only alerts about providers of these kinds; none selected: every kind.",
    "cooldown_s": "After an alert about one provider, further changes within this many seconds are held back and "
    'summarised ("still flapping: N changes"). 0 sends every change.',
    "enabled": "A disabled channel takes no alerts; Send test alert still reaches it.",
}


def provider_choices() -> list[tuple[str, str]]:
    """Every provider by id (an archived one too: a channel may still name it)."""
    return list(Provider.objects.order_by("id").values_list("id", "name"))


def initial_values(channel: AlertChannel | None = None) -> dict[str, Any]:
    """What the form shows: a new channel's defaults, or the channel's saved fields."""
    if channel is None:
        return {
            "kind": ChannelKind.WEBHOOK,
            "id": "",
            "name": "",
            "url": "",
            "email_to": "",
            "events": list(SUBSCRIBABLE),
            "providers": [],
            "kinds": [],
            "cooldown_s": str(DEFAULT_COOLDOWN_S),
            "enabled": True,
        }
    return {
        "kind": channel.kind,
        "id": channel.id,
        "name": channel.name,
        "url": channel.url,
        "email_to": "\n".join(channel.email_to),
        "events": list(channel.events),
        "providers": list(channel.providers),
        "kinds": list(channel.kinds),
        "cooldown_s": str(channel.cooldown_s),
        "enabled": channel.enabled,
    }


def submitted_values(post) -> dict[str, Any]:
    """The values as the operator sent them, to show the form again after an error."""
    return {
        "kind": post.get("kind", ""),
        "id": post.get("id", ""),
        "name": post.get("name", ""),
        "url": post.get("url", ""),
        "email_to": post.get("email_to", ""),
        "events": post.getlist("events"),
        "providers": post.getlist("providers"),
        "kinds": post.getlist("kinds"),
        "cooldown_s": post.get("cooldown_s", ""),
        "enabled": post.get("enabled") == "on",
    }


def _cooldown(text: str) -> int | str:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else text


def channel_data(post, *, creating: bool) -> dict[str, Any]:
    """The body `services.create_channel` (all fields) or `update_channel` (the editable ones)
    takes, read from the form's POST."""
    data: dict[str, Any] = {
        "name": post.get("name", ""),
        "url": post.get("url", ""),
        "email_to": [a for a in RECIPIENT_SEPARATORS.split(post.get("email_to", "")) if a],
        "events": post.getlist("events"),
        "providers": post.getlist("providers"),
        "kinds": post.getlist("kinds"),
        "cooldown_s": _cooldown(post.get("cooldown_s", "")),
        "enabled": post.get("enabled") == "on",
    }
    if creating:
        data["id"] = post.get("id", "").strip()
        data["kind"] = post.get("kind", "")
    return data


def field_errors(message_dict: dict[str, list[str]]) -> dict[str, list[str]]:
    """`clean_channel`'s errors by field; anything not a form field goes on top of the form."""
    known = set(HELP)
    errors: dict[str, list[str]] = {}
    for field, messages in message_dict.items():
        errors.setdefault(field if field in known else "__all__", []).extend(messages)
    return errors
