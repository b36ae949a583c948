"""Relative times on the pages: `{% reltime moment "checked" %}` renders

    <time datetime="2026-02-18T10:00:00.000000Z" title="2026-02-18 10:00:00 UTC" data-relative
          data-prefix="checked">checked 12 s ago</time>

The text is right without JavaScript (computed when the page is drawn); static/js/reltime.js,
loaded on every page, recomputes every `time[data-relative]` each second with the same rules
(`relative_text` here, `ProviderConsole.reltime.text` there). The exact UTC time is on hover.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime

from django import template
from django.utils.safestring import mark_safe

from core.timefmt import iso_utc

register = template.Library()

# (seconds in the unit, its name); the largest unit that fits is used.
UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def relative_text(seconds: float) -> str:
    """`seconds` since a moment as words: "just now", "12 s ago", "3 min ago", "2 h ago",
    "4 d ago"; a moment ahead (a clock a little fast) is "in 5 s"."""
    ahead = seconds < 0
    amount = math.floor(abs(seconds))
    if amount < 1:
        return "just now"
    for size, name in UNITS:
        if amount >= size:
            count = amount // size
            return f"in {count} {name}" if ahead else f"{count} {name} ago"
    return "just now"  # unreachable: amount >= 1 always fits the seconds unit


def exact_utc(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "seconds")[:19] + " UTC"  # isoformat: several times cheaper than strftime


@register.simple_tag
def reltime(moment: datetime | None, prefix: str = "", now: datetime | None = None) -> str:
    """A `<time>` saying how long ago `moment` was, after `prefix`; "" for no moment."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    text = relative_text((now - moment).total_seconds())
    # Drawn once or twice per card on the list (thousands a page): the standard library's
    # escaping, not format_html's per-argument machinery nor Django's lazy-aware escape().
    prefix_html = html.escape(prefix)
    return mark_safe(
        f'<time datetime="{iso_utc(moment)}" title="{exact_utc(moment)}" data-relative data-prefix="{prefix_html}">'
        f"{prefix_html + ' ' if prefix else ''}{html.escape(text)}</time>"
    )


@register.filter
def get_item(mapping, key):
    """`mapping|get_item:key`: a dict's value for a key from the template, None if absent."""
    return mapping.get(key) if hasattr(mapping, "get") else None
