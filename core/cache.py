"""Django's Redis cache, for a cache that is a helper and never the source of truth.

When Redis fails (down, unreachable, timing out, refusing writes), every operation behaves as
a miss or a no-op instead of raising: `get` returns the default, `set` stores nothing, `add`
adds nothing, `incr` finds no key. So whatever uses the cache falls back to the database or
to not caching: DRF's throttles let requests through, the vault decrypts from its table, and
no request answers 500 because of the cache. The failure is logged once per outage (a WARNING
naming the server, never its password) and the return once (INFO).

While Redis is down, operations do not touch the network for `RETRY_SECONDS` (OPTIONS, default
1) after each failure, so an outage costs no connect timeout per request; then the next
operation tries again. `available` is False during an outage: a caller that must not trust
what it cached elsewhere while the shared cache cannot tell it about changes asks it
(`getattr(cache, "available", True)`, which other backends answer True).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

DEFAULT_RETRY_SECONDS = 1.0


def _describe(servers: list[str]) -> str:
    """host:port/db of each server, without user name or password."""
    described = []
    for server in servers:
        parts = urlsplit(server)
        try:
            port = parts.port
        except ValueError:
            port = None
        described.append(f"{parts.hostname or '?'}:{port or 6379}{parts.path or ''}")
    return ", ".join(described)


class _Outage:
    """Whether the servers of one LOCATION are failing, shared by every thread of the process."""

    def __init__(self, where: str):
        self.where = where
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def skip(self) -> bool:
        return self.down_since is not None and time.monotonic() < self.retry_at

    def failed(self, exc: BaseException, retry_seconds: float) -> None:
        with self.lock:
            now = time.monotonic()
            self.retry_at = now + retry_seconds
            if self.down_since is not None:
                return
            self.down_since = now
        logger.warning(
            "cache at %s is unavailable (%s); serving without it until it answers again",
            self.where,
            type(exc).__name__,
        )

    def recovered(self) -> None:
        with self.lock:
            if self.down_since is None:
                return
            lasted = time.monotonic() - self.down_since
            self.down_since = None
        logger.info("cache at %s answers again after %.1f s", self.where, lasted)


_outages: dict[tuple[str, ...], _Outage] = {}
_outages_lock = threading.Lock()


def _outage_for(servers: list[str]) -> _Outage:
    key = tuple(servers)
    with _outages_lock:
        if key not in _outages:
            _outages[key] = _Outage(_describe(servers))
        return _outages[key]


_MISSING = object()


class FailSafeRedisCache(RedisCache):
    """RedisCache whose failures are a miss or a no-op, logged once per outage."""

    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        self.retry_seconds = float(options.pop("RETRY_SECONDS", DEFAULT_RETRY_SECONDS))
        params["OPTIONS"] = options
        super().__init__(server, params)
        self._outage = _outage_for(self._servers)

    @property
    def available(self) -> bool:
        return not self._outage.down

    def _guarded(self, fallback: Callable[[], Any], operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._outage.skip():
            return fallback()
        try:
            result = operation(*args, **kwargs)
        except (RedisError, OSError) as exc:
            self._outage.failed(exc, self.retry_seconds)
            return fallback()
        if self._outage.down:
            self._outage.recovered()
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(lambda: False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._guarded(lambda: default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(lambda: None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(lambda: False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._guarded(lambda: False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return self._guarded(dict, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._guarded(lambda: False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        result = self._guarded(lambda: _MISSING, super().incr, key, delta, version)
        if result is _MISSING:
            raise ValueError(f"Key '{key}' not found.")
        return result

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(lambda: list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._guarded(lambda: None, super().delete_many, keys, version)

    def clear(self):
        return self._guarded(lambda: False, super().clear)
