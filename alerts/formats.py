"""What an alert says, per channel kind (API.md, "Alerts"; docs/alerts.md).

- Webhook: `POST` of `{"alert", "event", "sent_at", "delivery_id", "text", "changes"}` as JSON,
  the event row masked as for viewers, signed `X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
  "<t>.<raw body>">` with the channel's webhook secret.
- Slack: `{"text": ...}`, one readable line with a link to the provider's page.
- Email: the line as the subject; the line, the link and the event's summary as the body.

Nothing here reads a secret but the webhook signature's key, which goes into the HMAC only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings

from core.timefmt import iso_utc

LABELS = {
    "provider.unreachable": "Unreachable",
    "provider.degraded": "Degraded",
    "provider.recovered": "Recovered",
    "chain.serving_changed": "Serving provider changed",
    "secret.cleared": "Secret cleared",
    "checks.failed": "Checks failed",
    "alert.test": "Test alert",
}
SIGNATURE_HEADER = "X-Signature"


def alert_text(alert: str, event: dict[str, Any]) -> str:
    """One line: the label and the event's summary (summaries are readable by viewers: no secret)."""
    return f"[{LABELS.get(alert, alert)}] {event.get('summary', '')}".strip()


def flapping_text(alert: str, row: Any, changes: int, cooldown_s: int) -> str:
    """The alert for what a cooldown window held back: `changes` alerts, `row` the latest."""
    span = _span(cooldown_s)
    if changes == 1:  # one change held back is not flapping: it is said late, and said so
        return f"[{LABELS.get(alert, alert)}] {row.summary} (held back by the {span} cooldown)"
    if alert == "checks.failed":
        return f"[Still failing] {changes} runs with failures in the last {span}; latest: {row.summary}"
    if alert == "chain.serving_changed":
        return f"[Still flapping] the serving provider changed {changes} times in the last {span}; latest: {row.summary}"
    return f"[Still flapping] {row.provider_id}: {changes} changes in the last {span}; latest: {row.summary}"


def _span(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def provider_link(provider_id: str) -> str | None:
    if not provider_id:
        return None
    return f"{settings.SITE_URL.rstrip('/')}/providers/{provider_id}/"


def webhook_body(delivery: Any, sent_at: Any) -> bytes:
    body = {
        "alert": delivery.alert,
        "event": delivery.event,
        "sent_at": iso_utc(sent_at),
        "delivery_id": delivery.pk,
        "text": delivery.text,
        "changes": delivery.changes,
        "link": provider_link(delivery.provider_id),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Signature` header's value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, *, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does (docs/alerts.md): the MAC matches and `t` is within the window."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def slack_body(delivery: Any) -> bytes:
    link = provider_link(delivery.provider_id)
    text = delivery.text if link is None else f"{delivery.text} <{link}|{delivery.provider_id}>"
    return json.dumps({"text": text}, separators=(",", ":"), ensure_ascii=False).encode()


def email_message(delivery: Any) -> tuple[str, str]:
    """(subject, body) of the alert's email."""
    link = provider_link(delivery.provider_id)
    event = delivery.event or {}
    lines = [delivery.text, ""]
    if link:
        lines.append(f"Provider: {link}")
    lines += [f"Event: {event.get('event', '')} #{event.get('id', '')} at {event.get('created_at', '')}",
              f"Actor: {event.get('actor', '')}"]
    subject = delivery.text.replace("\n", " ")[:200]
    return subject, "\n".join(lines) + "\n"
