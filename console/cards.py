"""The provider cards, drawn with Jinja2 (`console/jinja2/console/cards.jinja`).

The list page draws every provider's card on each request, and the Django template language
cost about 0.7 ms a card: 0.7 s of a 1,000-provider page whose target is 300 ms. Jinja2 compiles
the same markup to Python. The rest of the pages stay in Django templates; these functions are
how they and the views reach the card's parts (`{% provider_cards %}`, `{% last_error %}`) and
the routing chain's nodes (`{% chain_nodes %}`), one per provider too.
"""

from __future__ import annotations

from typing import Any

from django.middleware.csrf import get_token
from django.template import engines
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from providers.models import Kind

TEMPLATE = "console/cards.jinja"
CHAIN_NODES = "console/chain_nodes.jinja"


def _template(name: str = TEMPLATE):
    return engines["jinja2"].env.get_template(name)


def _csrf_input(request) -> SafeString:
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))


def render_cards(request, cards: list[dict[str, Any]], can: dict[str, bool]) -> SafeString:
    """Every card of `cards`, in order."""
    # The kinds' labels once: `get_kind_display()` builds the choices' dict on every call.
    kind_labels = {value: str(label) for value, label in Kind.choices}
    return mark_safe(_template().render(
        {"request": request, "cards": cards, "can": can, "csrf_input": _csrf_input(request), "kind_labels": kind_labels}
    ))


def chain_nodes(chain, chain_links: dict[str, str], chain_checked: dict[str, Any]) -> SafeString:
    """The `<li>` nodes of the routing chain, in its order."""
    return mark_safe(_template(CHAIN_NODES).render({"chain": chain, "chain_links": chain_links, "chain_checked": chain_checked}))


def security_section(card: dict[str, Any], can: dict[str, bool]) -> SafeString:
    """A card's Security section (the secret dialog swaps it in after an action)."""
    return mark_safe(str(_template().module.security(card, can)))


def last_error(health: dict[str, Any], secret: dict[str, Any]) -> SafeString:
    """The last check's error as it reads now: a `missing_secret` older than the stored secret says
    the next Test will use it."""
    return mark_safe(str(_template().module.last_error(health, secret)))
