"""Small filters for the provider form and its toasts."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def field_of(mapping, name):
    """`values|field_of:"name"`: a dict's value by a name given in the template."""
    return mapping.get(name, "") if hasattr(mapping, "get") else ""


@register.filter
def undo_target(message) -> str:
    """The provider id an archive toast offers to restore (its extra tag `undo:<id>`), or ""."""
    for tag in (getattr(message, "extra_tags", "") or "").split():
        if tag.startswith("undo:"):
            return tag.removeprefix("undo:")
    return ""
