"""Envelope encryption for secret versions, on `cryptography`'s AES-256-GCM.

Each secret version gets its own random data key. The value is encrypted with the data key;
the data key is encrypted ("wrapped") with the key ring's active key-encryption key (KEK).
The stored record holds the KEK's id (`kid`), the wrapped key, both nonces and the ciphertext.

Associated data binds the ciphertext and the wrapped key to the provider id, the secret field,
the version and the endpoint origin the value may be sent to (and the wrapped key also to its
kid), so bytes copied to another row, field, version or origin fail authentication instead of
decrypting. Versions stored before origins existed carry `origin=None` and the first format of
associated data (`secrets_vault.v1`, without the origin); they still decrypt. Secrets kept for
owners other than providers (`OwnedSecretVersion`, e.g. an alert channel's webhook secret) are
bound to their owner, field and version under a prefix of their own (`secrets_vault.owned.v1`).

The key ring comes from `settings.VAULT_KEYS`: "kid:base64-32-byte-key,kid2:...". The first
key encrypts, every listed key decrypts. With `VAULT_KEYS` empty and `DEBUG` on, a development
key ring is read from (or created at) `settings.VAULT_KEY_FILE`, mode 0600. With `DEBUG` off
and no `VAULT_KEYS`, the vault refuses to work (`ImproperlyConfigured`), and the system check
in `secrets_vault.checks` stops `manage.py runserver` / `migrate` before they start.

Every failure raises a `VaultError` subclass: nothing here ever returns ciphertext or a
partial value in place of a plaintext. Its message names the key id and what to do, never key
material. Nothing that holds key bytes prints them: `KeyRing` and `Envelope` show key ids and
lengths only, and the functions that hold keys or values in local variables are marked
`sensitive_variables` (which `secrets_vault.debug` makes effective on the DEBUG error page too).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from secrets_vault.logging_filter import register_secret

logger = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
KID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_AAD_PREFIX = b"secrets_vault.v1"  # versions stored before origins existed
_AAD_PREFIX_ORIGIN = b"secrets_vault.v2"  # with the endpoint origin
_AAD_PREFIX_OWNED = b"secrets_vault.owned.v1"  # secrets kept for owners other than providers


class VaultError(Exception):
    """Base of every vault failure. Messages never contain a secret value or key material."""


class KeyRingError(VaultError, ImproperlyConfigured):
    """`VAULT_KEYS` (or the development key file) is missing or malformed."""


class UnknownKeyError(VaultError):
    """The record was wrapped by a kid that is not in the key ring."""

    def __init__(self, message: str, kid: str = "") -> None:
        super().__init__(message)
        self.kid = kid


class DecryptionError(VaultError):
    """Authentication failed: a tampered byte, a record moved to another row or origin, or a wrong key."""

    def __init__(self, message: str, kid: str = "") -> None:
        super().__init__(message)
        self.kid = kid


class PurgedError(VaultError):
    """The record's ciphertext was destroyed by the retention purge."""


@dataclass(frozen=True, repr=False)
class KeyRing:
    keys: dict[str, bytes] = dataclass_field(repr=False)  # insertion order: the first is the active key
    source: str = "VAULT_KEYS"

    def __repr__(self) -> str:  # key ids only: a ring in a traceback, log or debug page shows no key
        return f"KeyRing(kids={self.kids!r}, source={self.source!r})"

    __str__ = __repr__

    @property
    def active_kid(self) -> str:
        return next(iter(self.keys))

    @property
    def kids(self) -> list[str]:
        return list(self.keys)

    def kek(self, kid: str) -> AESGCM:
        try:
            return AESGCM(self.keys[kid])
        except KeyError:
            raise UnknownKeyError(
                f"This secret was encrypted with vault key {kid!r}, which is not in {self.source} "
                f"(it holds {', '.join(self.keys)}). Add key {kid!r} back to {self.source} from your "
                "key store or a backup and restart, or set the secret again.",
                kid=kid,
            ) from None


def _size(data: bytes | None) -> str:
    return "None" if data is None else f"<{len(data)} bytes>"


@dataclass(frozen=True, repr=False)
class Envelope:
    kid: str
    wrapped_key: bytes
    key_nonce: bytes
    nonce: bytes | None
    ciphertext: bytes | None
    origin: str | None = None  # None: stored before origins existed (the v1 associated data)

    def __repr__(self) -> str:
        return (
            f"Envelope(kid={self.kid!r}, origin={self.origin!r}, wrapped_key={_size(self.wrapped_key)}, "
            f"key_nonce={_size(self.key_nonce)}, nonce={_size(self.nonce)}, ciphertext={_size(self.ciphertext)})"
        )

    __str__ = __repr__


# --- the key ring ---------------------------------------------------------------------------


@sensitive_variables("spec", "entries", "entry", "encoded", "raw", "keys")
def parse_key_ring(spec: str, *, source: str = "VAULT_KEYS") -> KeyRing:
    """Parse "kid:base64key,kid2:base64key". Errors name the entry, never the key bytes."""
    keys: dict[str, bytes] = {}
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    if not entries:
        raise KeyRingError(f"{source} is empty: give at least one 'kid:base64-32-byte-key'.")
    for position, entry in enumerate(entries, start=1):
        kid, sep, encoded = entry.partition(":")
        kid = kid.strip()
        if not sep or not KID_RE.match(kid):
            raise KeyRingError(
                f"{source} entry {position} must look like 'kid:base64key' with a kid of 1 to 32 "
                "letters, digits, '.', '_' or '-'."
            )
        if kid in keys:
            raise KeyRingError(f"{source} lists the kid {kid!r} twice.")
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyRingError(f"{source} key {kid!r} is not valid base64.") from None
        if len(raw) != KEY_BYTES:
            raise KeyRingError(f"{source} key {kid!r} must decode to {KEY_BYTES} bytes, not {len(raw)}.")
        keys[kid] = raw
        register_secret(encoded.strip())
    return KeyRing(keys=keys, source=source)


@sensitive_variables()
def generate_key_entry(kid: str | None = None) -> str:
    """A new "kid:base64key" entry, for VAULT_KEYS or the development key file."""
    kid = kid or "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    if not KID_RE.match(kid):
        raise KeyRingError("A kid is 1 to 32 letters, digits, '.', '_' or '-'.")
    return f"{kid}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode('ascii')}"


_ring_lock = threading.Lock()
_ring_cache: dict[tuple, KeyRing] = {}


@sensitive_variables("spec", "cache_key")
def get_key_ring() -> KeyRing:
    """The configured key ring; raises `KeyRingError` (an `ImproperlyConfigured`) if there is none."""
    spec = settings.VAULT_KEYS or ""
    key_file = Path(settings.VAULT_KEY_FILE)
    cache_key = (spec, str(key_file), bool(settings.DEBUG))
    ring = _ring_cache.get(cache_key)
    if ring is not None:
        return ring
    with _ring_lock:
        ring = _ring_cache.get(cache_key)
        if ring is None:
            if spec.strip():
                ring = parse_key_ring(spec)
            elif settings.DEBUG:
                ring = _development_key_ring(key_file)
            else:
                raise KeyRingError(
                    "VAULT_KEYS is not set and DEBUG is off: the vault will not start without its "
                    "key ring. Generate a key with `python manage.py vault_status --new-key` and set "
                    "VAULT_KEYS=kid:base64key (see docs/vault.md)."
                )
            _ring_cache[cache_key] = ring
    return ring


def reset_key_ring_cache() -> None:
    with _ring_lock:
        _ring_cache.clear()


@sensitive_variables("entry")
def _development_key_ring(path: Path) -> KeyRing:
    """Read the development key file, creating it (mode 0600) the first time."""
    try:
        return parse_key_ring(path.read_text(encoding="ascii"), source=str(path))
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = generate_key_entry("dev1")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return parse_key_ring(path.read_text(encoding="ascii"), source=str(path))
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(entry + "\n")
    logger.warning(
        "VAULT_KEYS is not set: created a development vault key at %s (mode 0600). "
        "Secrets stored now can only be read with this file; set VAULT_KEYS in production.",
        path,
    )
    return parse_key_ring(entry, source=str(path))


# --- encryption -----------------------------------------------------------------------------


def associated_data(
    purpose: bytes, provider_id: str, field: str, version: int, kid: str = "", origin: str | None = None
) -> bytes:
    """What a ciphertext (`b"data"`) or a wrapped key (`b"key"`, with its kid) is bound to.

    `origin=None` gives the first format, without an origin, for versions stored before origins.
    """
    if origin is None:
        parts = [_AAD_PREFIX, purpose, provider_id.encode(), field.encode(), str(int(version)).encode()]
        if kid:
            parts.append(kid.encode())
    else:
        parts = [_AAD_PREFIX_ORIGIN, purpose, provider_id.encode(), field.encode(), str(int(version)).encode(),
                 kid.encode(), origin.encode()]
    return b"\x00".join(parts)


def owned_associated_data(purpose: bytes, owner: str, field: str, version: int, kid: str = "") -> bytes:
    """The associated data of a secret kept for an owner other than a provider (`OwnedSecretVersion`).

    Its own prefix keeps it apart from every provider format: an owner named like a provider id
    still cannot take a provider's ciphertext, nor give it one.
    """
    return b"\x00".join(
        [_AAD_PREFIX_OWNED, purpose, owner.encode(), field.encode(), str(int(version)).encode(), kid.encode()]
    )


@dataclass(frozen=True)
class _Binding:
    """What one envelope is bound to: its associated data, and how error messages name it."""

    aad: Callable[[bytes, str], bytes]  # (purpose, kid) -> associated data
    where: str  # "openai-prod/api_key v3"
    elsewhere: str  # where bytes copied into this row could have come from


def _provider_binding(provider_id: str, field: str, version: int, origin: str | None) -> _Binding:
    return _Binding(
        aad=lambda purpose, kid: associated_data(purpose, provider_id, field, version, kid, origin=origin),
        where=f"{provider_id}/{field} v{version}",
        elsewhere="another provider, version or origin",
    )


def _owned_binding(owner: str, field: str, version: int) -> _Binding:
    return _Binding(
        aad=lambda purpose, kid: owned_associated_data(purpose, owner, field, version, kid),
        where=f"{owner}/{field} v{version}",
        elsewhere="another owner, field or version",
    )


@sensitive_variables("plaintext", "data_key")
def _seal(plaintext: str, binding: _Binding, origin: str | None, ring: KeyRing | None) -> Envelope:
    ring = ring or get_key_ring()
    kid = ring.active_kid
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode("utf-8"), binding.aad(b"data", ""))
    key_nonce = os.urandom(NONCE_BYTES)
    wrapped = ring.kek(kid).encrypt(key_nonce, data_key, binding.aad(b"key", kid))
    return Envelope(
        kid=kid, wrapped_key=wrapped, key_nonce=key_nonce, nonce=nonce, ciphertext=ciphertext, origin=origin
    )


@sensitive_variables("plaintext")
def encrypt(
    plaintext: str, *, provider_id: str, field: str, version: int, origin: str, ring: KeyRing | None = None
) -> Envelope:
    """Encrypt `plaintext` for one version of one provider's field, to be sent only to `origin`."""
    return _seal(plaintext, _provider_binding(provider_id, field, version, origin), origin, ring)


@sensitive_variables("plaintext")
def encrypt_owned(plaintext: str, *, owner: str, field: str, version: int, ring: KeyRing | None = None) -> Envelope:
    """Encrypt `plaintext` for one version of an owner's field (no origin: the owner decides where it goes)."""
    return _seal(plaintext, _owned_binding(owner, field, version), None, ring)


def _failed_authentication(what: str, binding: _Binding, envelope: Envelope) -> DecryptionError:
    return DecryptionError(
        f"The {what} of secret {binding.where} (vault key {envelope.kid!r}) failed authentication: the row was "
        f"changed or copied from {binding.elsewhere}, or VAULT_KEYS holds a different key under "
        f"the id {envelope.kid!r}. Put the right key under {envelope.kid!r} in VAULT_KEYS, restore the row from "
        "a backup, or set the secret again.",
        kid=envelope.kid,
    )


@sensitive_variables("data_key")
def _unwrap(envelope: Envelope, binding: _Binding, ring: KeyRing | None) -> bytes:
    ring = ring or get_key_ring()
    if not envelope.wrapped_key or not envelope.key_nonce:
        raise PurgedError("This secret version holds no key material (cleared or purged).")
    kek = ring.kek(envelope.kid)
    try:
        data_key = kek.decrypt(bytes(envelope.key_nonce), bytes(envelope.wrapped_key), binding.aad(b"key", envelope.kid))
    except InvalidTag:
        raise _failed_authentication("data key", binding, envelope) from None
    if len(data_key) != KEY_BYTES:
        raise _failed_authentication("data key", binding, envelope)
    return data_key


@sensitive_variables("data_key")
def unwrap_data_key(
    envelope: Envelope, *, provider_id: str, field: str, version: int, ring: KeyRing | None = None
) -> bytes:
    return _unwrap(envelope, _provider_binding(provider_id, field, version, envelope.origin), ring)


@sensitive_variables("plaintext", "data_key", "raw")
def _open(envelope: Envelope, binding: _Binding, ring: KeyRing | None) -> str:
    if envelope.ciphertext is None or envelope.nonce is None:
        raise PurgedError(f"Secret {binding.where} holds no value (cleared or purged).")
    data_key = _unwrap(envelope, binding, ring)
    try:
        raw = AESGCM(data_key).decrypt(bytes(envelope.nonce), bytes(envelope.ciphertext), binding.aad(b"data", ""))
    except InvalidTag:
        raise _failed_authentication("ciphertext", binding, envelope) from None
    try:
        plaintext = raw.decode("utf-8")
    except UnicodeDecodeError:  # authenticated, so this cannot happen unless written wrongly
        raise DecryptionError(
            f"Secret {binding.where} (vault key {envelope.kid!r}) is not valid UTF-8; set the secret again.",
            kid=envelope.kid,
        ) from None
    register_secret(plaintext)
    return plaintext


@sensitive_variables("plaintext")
def decrypt(envelope: Envelope, *, provider_id: str, field: str, version: int, ring: KeyRing | None = None) -> str:
    return _open(envelope, _provider_binding(provider_id, field, version, envelope.origin), ring)


@sensitive_variables("plaintext")
def decrypt_owned(envelope: Envelope, *, owner: str, field: str, version: int, ring: KeyRing | None = None) -> str:
    return _open(envelope, _owned_binding(owner, field, version), ring)


@sensitive_variables("data_key")
def _rewrap(envelope: Envelope, binding: _Binding, ring: KeyRing | None) -> Envelope:
    ring = ring or get_key_ring()
    data_key = _unwrap(envelope, binding, ring)
    kid = ring.active_kid
    key_nonce = os.urandom(NONCE_BYTES)
    wrapped = ring.kek(kid).encrypt(key_nonce, data_key, binding.aad(b"key", kid))
    return Envelope(
        kid=kid, wrapped_key=wrapped, key_nonce=key_nonce, nonce=envelope.nonce, ciphertext=envelope.ciphertext,
        origin=envelope.origin,
    )


def rewrap(envelope: Envelope, *, provider_id: str, field: str, version: int, ring: KeyRing | None = None) -> Envelope:
    """The same ciphertext with its data key wrapped by the ring's active key."""
    return _rewrap(envelope, _provider_binding(provider_id, field, version, envelope.origin), ring)


def rewrap_owned(envelope: Envelope, *, owner: str, field: str, version: int, ring: KeyRing | None = None) -> Envelope:
    """`rewrap` for an owner's secret."""
    return _rewrap(envelope, _owned_binding(owner, field, version), ring)
