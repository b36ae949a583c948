"""`{% current_check_run as run %}`: the Run all checks going now, for the list page's panel."""

from __future__ import annotations

from django import template

from health.background import current_run

register = template.Library()


@register.simple_tag
def current_check_run():
    return current_run()
