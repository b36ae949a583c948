"""The credential a health probe sends, cached in process memory for at most 60 seconds.

Any secret action drops the provider's entry at once (spec §7): in this process directly, and
in every other process through a generation token kept in Django's cache (Redis when
`REDIS_URL` is set), which each lookup compares before trusting its entry.
While that cache is down (core/cache.py), every lookup decrypts from the database and nothing
is cached here; entries cached before the outage are dropped when a lookup notices it.
"""

from __future__ import annotations

import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables

from secrets_vault import crypto
from secrets_vault.models import PRIMARY_FIELD, SecretVersion

MAX_CACHE_SECONDS = 60.0

_lock = threading.Lock()
# (provider_id, field) -> (expires_at monotonic, generation seen when loaded, value or None)
_entries: dict[tuple[str, str], tuple[float, str | None, str | None]] = {}


def _generation_key(provider_id: str) -> str:
    return f"secrets_vault:generation:{provider_id}"


def _ttl() -> float:
    configured = float(getattr(settings, "VAULT_CREDENTIAL_CACHE_SECONDS", MAX_CACHE_SECONDS))
    return max(0.0, min(configured, MAX_CACHE_SECONDS))


@sensitive_variables("value", "entry")
def get_credential(provider, field: str = PRIMARY_FIELD) -> str | None:
    """The current plaintext of the provider's credential, or None when none is present.

    Raises a `crypto.VaultError` if the stored value cannot be decrypted (fail closed).
    """
    provider_id = getattr(provider, "pk", provider)
    key = (provider_id, field)
    generation = cache.get(_generation_key(provider_id))
    # While the shared cache is down, no other process can tell this one about a secret
    # action: trust nothing cached here, and read the database (core/cache.py).
    shared_cache_up = getattr(cache, "available", True)
    now = time.monotonic()
    with _lock:
        if not shared_cache_up:
            _entries.clear()
        entry = _entries.get(key)
    if entry is not None and entry[0] > now and entry[1] == generation:
        return entry[2]
    row = (
        SecretVersion.objects.current()
        .filter(provider_id=provider_id, field=field)
        .only("provider_id", "field", "version", "action", "kid", "wrapped_key", "key_nonce", "nonce", "ciphertext")
        .first()
    )
    value = None
    if row is not None and row.holds_value:
        value = crypto.decrypt(row.envelope(), provider_id=provider_id, field=field, version=row.version)
    ttl = _ttl()
    if ttl > 0 and shared_cache_up:
        with _lock:
            _entries[key] = (now + ttl, generation, value)
    return value


def drop_credential(provider_id: str) -> None:
    """Forget every cached credential of the provider, here and in other processes."""
    with _lock:
        for key in [k for k in _entries if k[0] == provider_id]:
            del _entries[key]
    cache.set(_generation_key(provider_id), uuid.uuid4().hex, timeout=None)


def clear_credential_cache() -> None:
    with _lock:
        _entries.clear()
