"""`{% provider_cards %}`, `{% chain_nodes %}` and `{% last_error health secret %}`: the
Jinja2-drawn parts (console/cards.py) inside the Django templates of the pages."""

from __future__ import annotations

from django import template

from console import cards as card_html

register = template.Library()


@register.simple_tag(takes_context=True)
def provider_cards(context) -> str:
    return card_html.render_cards(context["request"], context["cards"], context["can"])


@register.simple_tag
def last_error(health, secret) -> str:
    return card_html.last_error(health, secret)


@register.simple_tag(takes_context=True)
def chain_nodes(context) -> str:
    return card_html.chain_nodes(context["chain"], context["chain_links"], context["chain_checked"])
