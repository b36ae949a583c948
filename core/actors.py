"""Who did something, as the audit log and the vault's metadata name them."""

from __future__ import annotations

from typing import Any

SYSTEM = "system"


def actor_name(actor: Any) -> str:
    """A signed-in user's user name; a non-empty string as given (a command names itself, e.g.
    "scheduler"); anything else (None, an anonymous user) is "system"."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor.get_username()
    return actor if isinstance(actor, str) and actor else SYSTEM
