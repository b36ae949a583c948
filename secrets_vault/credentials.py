"""The credential a health probe sends, cached in process memory for at most 60 seconds.

Any secret action drops the provider's entry at once (spec §7): in this process directly, and
in every other process through a generation token kept in Django's cache (Redis when
`REDIS_URL` is set), which each lookup compares before trusting its entry.
While that cache is down (core/cache.py), every lookup decrypts from the database and nothing
is cached here; entries cached before the outage are dropped when a lookup notices it.

A credential comes with the endpoint origin it is bound to (`BoundCredential`): a probe sends it
only there, and not at all when the provider's endpoint has moved to another origin since.
"""

from __future__ import annotations

import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables

from core.masking import MASK
from secrets_vault import crypto
from secrets_vault.models import PRIMARY_FIELD, SecretVersion

MAX_CACHE_SECONDS = 60.0


class BoundCredential:
    """A credential's plaintext and the origin (`scheme://host:port`) it may be sent to.

    Its repr and str never show the value, so a traceback, a log line or a debug page that
    prints it shows the origin only.
    """

    __slots__ = ("value", "origin")

    def __init__(self, value: str, origin: str) -> None:
        self.value = value
        self.origin = origin

    def __repr__(self) -> str:
        return f"BoundCredential(origin={self.origin!r}, value='{MASK}')"

    __str__ = __repr__


_lock = threading.Lock()
# (provider_id, field) -> (expires_at monotonic, generation seen when loaded, credential or None)
_entries: dict[tuple[str, str], tuple[float, str | None, BoundCredential | None]] = {}


def _generation_key(provider_id: str) -> str:
    return f"secrets_vault:generation:{provider_id}"


def _ttl() -> float:
    configured = float(getattr(settings, "VAULT_CREDENTIAL_CACHE_SECONDS", MAX_CACHE_SECONDS))
    return max(0.0, min(configured, MAX_CACHE_SECONDS))


@sensitive_variables("credential")
def get_credential(provider, field: str = PRIMARY_FIELD) -> str | None:
    """The current plaintext of the provider's credential, or None when none is present.

    Raises a `crypto.VaultError` if the stored value cannot be decrypted (fail closed).
    """
    credential = get_bound_credential(provider, field)
    return None if credential is None else credential.value


@sensitive_variables("value", "entry", "credential")
def get_bound_credential(provider, field: str = PRIMARY_FIELD) -> BoundCredential | None:
    """The current credential with the origin it is bound to, or None when none is present.

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
        .only("provider_id", "field", "version", "action", "kid", "wrapped_key", "key_nonce", "nonce", "ciphertext",
              "origin", "origin_in_aad")
        .first()
    )
    credential = None
    if row is not None and row.holds_value:
        value = crypto.decrypt(row.envelope(), provider_id=provider_id, field=field, version=row.version)
        credential = BoundCredential(value, row.origin)
    ttl = _ttl()
    if ttl > 0 and shared_cache_up:
        with _lock:
            _entries[key] = (now + ttl, generation, credential)
    return credential


def drop_credential(provider_id: str) -> None:
    """Forget every cached credential of the provider, here and in other processes."""
    with _lock:
        for key in [k for k in _entries if k[0] == provider_id]:
            del _entries[key]
    cache.set(_generation_key(provider_id), uuid.uuid4().hex, timeout=None)


def clear_credential_cache() -> None:
    with _lock:
        _entries.clear()
