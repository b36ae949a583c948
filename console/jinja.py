"""The Jinja2 environment of the few templates drawn with Jinja2 (console/cards.py says why):
Django's filters they need, under the same names, and `reltime` (console/templatetags/reltime.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.timesince import timesince
from jinja2 import Environment

from console.templatetags.reltime import reltime


def utc_time(moment: datetime | None) -> str:
    """As the Django templates' `date:"Y-m-d H:i:s"` in UTC."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def environment(**options) -> Environment:
    env = Environment(**options)
    env.filters.update(timesince=timesince, utc_time=utc_time)
    env.globals.update(reltime=reltime)
    return env
