"""The provider list's answers, kept in the process for the chain version they were built at.

`GET /api/providers` is what an integration polls. Building a page costs about ten queries and
the serialization of fifty providers with their vault projection, health and routing intent,
almost all of it Python; answering the same question again while nothing changed costs one
query (the version) and a dictionary read. docs/performance.md, "The provider API".

An answer is kept under:
- the chain version (console/chaincache.py): every provider, secret and health change moves it,
  in every process alike, so no process answers with data older than its own last read of it;
- what decides the answer for the asker: the full URL (filters, ordering, page, and the host
  and scheme the pagination links are written with) and how much they may see — only users
  with the global view permission, whose answer shows every provider, are served from here,
  either in the clear (the global change permission) or with metadata masked (no change
  permission on any provider); a user with delegated permissions is always answered afresh;
- for `PROVIDER_LIST_CACHE_SECONDS` at most (2 by default; 0 turns the cache off): the 5-minute
  and 1-minute health figures move with the clock alone, so an answer may lag the clock by that
  much, never a change.

A list computed inside a transaction of the caller's own is not kept (it may show writes that
are rolled back), as the chain is not.

A kept answer is also kept as the JSON bytes it renders to, the first time it is asked for as
plain `application/json` (what integrations get): serializing fifty providers again was the
largest part of answering a kept page. Any other media type (`indent=`, the browsable API) is
rendered from the data each time, so a client cannot make one answer keep many renderings.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from django.conf import settings
from guardian.shortcuts import get_objects_for_user
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from console.chaincache import chain_version, inside_own_transaction
from providers.models import Provider

MAX_ENTRIES = 256

_lock = threading.Lock()
_answers: OrderedDict[tuple, tuple[float, Kept]] = OrderedDict()


class Kept:
    """A kept answer: the page's data, and its plain JSON rendering once one was made."""

    __slots__ = ("data", "json")

    def __init__(self, data: Any) -> None:
        self.data = data
        self.json: bytes | None = None


class KeptResponse(Response):
    """DRF's response with a kept answer's data; as plain JSON, its bytes are rendered once."""

    def __init__(self, kept: Kept) -> None:
        super().__init__(kept.data)
        self.kept = kept

    @property
    def rendered_content(self):
        renderer = getattr(self, "accepted_renderer", None)
        plain = (
            type(renderer) is JSONRenderer
            and self.accepted_media_type == renderer.media_type
            and self.renderer_context.get("indent") is None
        )
        if not plain:
            return super().rendered_content
        if self.kept.json is None:
            self.kept.json = super().rendered_content  # also sets the Content-Type
        else:
            self["Content-Type"] = renderer.media_type  # as DRF sets it for JSON (no charset)
        return self.kept.json


def lifetime() -> float:
    return float(getattr(settings, "PROVIDER_LIST_CACHE_SECONDS", 2.0))


def audience(user) -> str | None:
    """"clear" or "masked" for users whose list shows every provider alike; None otherwise."""
    if not user.has_perm("providers.view_provider"):
        return None  # delegated: their own providers only
    if user.has_perm("providers.change_provider"):
        return "clear"
    delegated = get_objects_for_user(user, "providers.change_provider", klass=Provider, accept_global_perms=False)
    return None if delegated.exists() else "masked"


def key_for(request, who: str | None) -> tuple | None:
    """The key of this request's answer for the audience `who` (`audience(user)`), or None
    when it is not to be kept or reused. Its first part is the chain version."""
    if lifetime() <= 0 or request.method != "GET" or who is None:
        return None
    return (chain_version(), who, request.build_absolute_uri())


def lookup(key: tuple) -> Kept | None:
    with _lock:
        stored = _answers.get(key)
        if stored is None:
            return None
        if time.monotonic() - stored[0] > lifetime():
            del _answers[key]
            return None
        _answers.move_to_end(key)
        return stored[1]


def store(key: tuple, data: Any) -> None:
    if inside_own_transaction():
        return
    with _lock:
        _answers[key] = (time.monotonic(), Kept(data))
        _answers.move_to_end(key)
        while len(_answers) > MAX_ENTRIES:
            _answers.popitem(last=False)


def forget() -> None:
    with _lock:
        _answers.clear()
