"""Envelope encryption: round trip, and every failure fails closed with a typed error."""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import pprint

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secrets_vault import crypto

KEY_A = "ka:" + base64.b64encode(b"a" * 32).decode()
KEY_B = "kb:" + base64.b64encode(b"b" * 32).decode()
WHERE = {"provider_id": "openai-prod", "field": "api_key", "version": 3}
ORIGIN = "https://api.example.com:443"


@pytest.fixture
def ring():
    return crypto.parse_key_ring(KEY_A)


def flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_round_trip(ring):
    envelope = crypto.encrypt("sk-round-trip-value-é", ring=ring, origin=ORIGIN, **WHERE)

    assert envelope.kid == "ka"
    assert b"sk-round-trip" not in envelope.ciphertext
    assert crypto.decrypt(envelope, ring=ring, **WHERE) == "sk-round-trip-value-é"


def test_each_version_gets_its_own_data_key_and_nonces(ring):
    first = crypto.encrypt("same value", ring=ring, origin=ORIGIN, **WHERE)
    second = crypto.encrypt("same value", ring=ring, origin=ORIGIN, **WHERE)

    assert first.ciphertext != second.ciphertext
    assert first.wrapped_key != second.wrapped_key
    assert first.nonce != second.nonce and first.key_nonce != second.key_nonce


@pytest.mark.parametrize("part", ["ciphertext", "wrapped_key", "nonce", "key_nonce"])
@pytest.mark.parametrize("index", [0, -1])
def test_a_tampered_byte_fails_closed(ring, part, index):
    envelope = crypto.encrypt("sk-tamper-target-000", ring=ring, origin=ORIGIN, **WHERE)
    data = getattr(envelope, part)
    tampered = dataclasses.replace(envelope, **{part: flip(data, index % len(data))})

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(tampered, ring=ring, **WHERE)


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"provider_id": "azure-east"},
        {"field": "token"},
        {"version": 4},
    ],
)
def test_a_record_copied_to_another_row_fails_closed(ring, elsewhere):
    envelope = crypto.encrypt("sk-swap-target-00000", ring=ring, origin=ORIGIN, **WHERE)

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(envelope, ring=ring, **{**WHERE, **elsewhere})


@pytest.mark.parametrize(
    "origin", ["https://attacker.example:443", "http://api.example.com:443", "https://api.example.com:8443", None]
)
def test_a_record_moved_to_another_origin_fails_closed(ring, origin):
    """The origin is in the associated data: a row whose origin column is changed (or whose bytes are
    copied to a row bound elsewhere) does not decrypt, and neither does one read as the old format."""
    envelope = crypto.encrypt("sk-origin-bound-0000", ring=ring, origin=ORIGIN, **WHERE)
    assert envelope.origin == ORIGIN

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(dataclasses.replace(envelope, origin=origin), ring=ring, **WHERE)


def test_rewrap_keeps_the_origin(ring):
    envelope = crypto.encrypt("sk-rewrap-origin-000", ring=ring, origin=ORIGIN, **WHERE)
    rewrapped = crypto.rewrap(envelope, ring=crypto.parse_key_ring(f"{KEY_B},{KEY_A}"), **WHERE)
    assert rewrapped.origin == ORIGIN
    assert crypto.decrypt(rewrapped, ring=crypto.parse_key_ring(KEY_B), **WHERE) == "sk-rewrap-origin-000"


def _first_format_envelope(ring, value: str) -> crypto.Envelope:
    """A version as stored before origins existed: the v1 associated data, no origin."""
    data_key, nonce, key_nonce = os.urandom(32), os.urandom(12), os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, value.encode(), crypto.associated_data(b"data", **WHERE))
    wrapped = ring.kek("ka").encrypt(key_nonce, data_key, crypto.associated_data(b"key", **WHERE, kid="ka"))
    return crypto.Envelope(kid="ka", wrapped_key=wrapped, key_nonce=key_nonce, nonce=nonce, ciphertext=ciphertext)


def test_a_version_stored_before_origins_still_decrypts_and_only_as_such(ring):
    legacy = _first_format_envelope(ring, "sk-first-format-0000")

    assert crypto.decrypt(legacy, ring=ring, **WHERE) == "sk-first-format-0000"
    with pytest.raises(crypto.DecryptionError):  # claiming an origin it was not sealed with
        crypto.decrypt(dataclasses.replace(legacy, origin=ORIGIN), ring=ring, **WHERE)


def test_vault_errors_name_the_key_id_and_what_to_do(ring):
    envelope = crypto.encrypt("sk-error-message-000", ring=ring, origin=ORIGIN, **WHERE)

    with pytest.raises(crypto.UnknownKeyError) as unknown:
        crypto.decrypt(envelope, ring=crypto.parse_key_ring(KEY_B), **WHERE)
    assert unknown.value.kid == "ka"
    assert "'ka'" in str(unknown.value) and "VAULT_KEYS" in str(unknown.value)
    assert "set the secret again" in str(unknown.value)

    with pytest.raises(crypto.DecryptionError) as failed:
        crypto.decrypt(dataclasses.replace(envelope, ciphertext=flip(envelope.ciphertext)), ring=ring, **WHERE)
    assert failed.value.kid == "ka"
    assert "'ka'" in str(failed.value) and "openai-prod/api_key v3" in str(failed.value)
    assert "backup" in str(failed.value) and "set the secret again" in str(failed.value)


def test_a_key_ring_and_an_envelope_never_print_key_bytes():
    raw = os.urandom(32)
    ring = crypto.parse_key_ring("kx:" + base64.b64encode(raw).decode())
    envelope = crypto.encrypt("sk-printed-nowhere-0", ring=ring, origin=ORIGIN, **WHERE)
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "ring %s %r envelope %s %r", (ring, ring, envelope, envelope), None)
    shown = [repr(ring), str(ring), f"{ring}", f"{ring!r}", repr(envelope), str(envelope), pprint.pformat(ring),
             pprint.pformat([ring, envelope]), record.getMessage()]

    assert repr(ring) == "KeyRing(kids=['kx'], source='VAULT_KEYS')"
    for text in shown:
        for form in key_forms(raw) + key_forms(envelope.wrapped_key) + key_forms(envelope.ciphertext):
            assert form not in text
    assert "wrapped_key=<48 bytes>" in repr(envelope) and "kid='kx'" in repr(envelope)


def key_forms(raw: bytes) -> list[str]:
    """Every way bytes could be printed: bytes literal (and its inside), base64, urlsafe, hex."""
    return [repr(raw), repr(raw)[2:-1], base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="), raw.hex(), raw.hex().upper()]


def test_a_relabelled_kid_fails_closed():
    ring = crypto.parse_key_ring(f"{KEY_A},{KEY_B}")
    envelope = crypto.encrypt("sk-kid-swap-00000000", ring=ring, origin=ORIGIN, **WHERE)

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(dataclasses.replace(envelope, kid="kb"), ring=ring, **WHERE)


def test_an_unknown_kid_fails_closed(ring):
    envelope = crypto.encrypt("sk-unknown-kid-00000", ring=ring, origin=ORIGIN, **WHERE)
    other_ring = crypto.parse_key_ring(KEY_B)

    with pytest.raises(crypto.UnknownKeyError, match="'ka'"):
        crypto.decrypt(envelope, ring=other_ring, **WHERE)


def test_the_same_kid_with_another_key_fails_closed(ring):
    envelope = crypto.encrypt("sk-wrong-key-0000000", ring=ring, origin=ORIGIN, **WHERE)
    impostor = crypto.parse_key_ring("ka:" + base64.b64encode(b"z" * 32).decode())

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(envelope, ring=impostor, **WHERE)


def test_a_purged_record_raises_instead_of_returning_anything(ring):
    envelope = crypto.encrypt("sk-purged-value-0000", ring=ring, origin=ORIGIN, **WHERE)

    with pytest.raises(crypto.PurgedError):
        crypto.decrypt(dataclasses.replace(envelope, ciphertext=None), ring=ring, **WHERE)


def test_every_error_is_a_vault_error():
    for error in (crypto.DecryptionError, crypto.UnknownKeyError, crypto.PurgedError, crypto.KeyRingError):
        assert issubclass(error, crypto.VaultError)


def test_rewrap_moves_the_data_key_to_the_active_key_and_keeps_the_ciphertext():
    old = crypto.parse_key_ring(KEY_A)
    envelope = crypto.encrypt("sk-rewrap-value-0000", ring=old, origin=ORIGIN, **WHERE)
    new = crypto.parse_key_ring(f"{KEY_B},{KEY_A}")

    rewrapped = crypto.rewrap(envelope, ring=new, **WHERE)

    assert rewrapped.kid == "kb"
    assert rewrapped.ciphertext == envelope.ciphertext
    assert crypto.decrypt(rewrapped, ring=crypto.parse_key_ring(KEY_B), **WHERE) == "sk-rewrap-value-0000"


# --- the key ring -----------------------------------------------------------------------------


def test_the_first_key_encrypts_and_every_key_decrypts():
    ring = crypto.parse_key_ring(f" {KEY_B} , {KEY_A} ")
    assert ring.active_kid == "kb"
    assert ring.kids == ["kb", "ka"]
    old = crypto.encrypt("sk-old-key-value-000", ring=crypto.parse_key_ring(KEY_A), origin=ORIGIN, **WHERE)
    assert crypto.decrypt(old, ring=ring, **WHERE) == "sk-old-key-value-000"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "empty"),
        ("nokey", "kid:base64key"),
        ("bad kid!:" + base64.b64encode(b"a" * 32).decode(), "kid:base64key"),
        ("k1:not base64!!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "32 bytes"),
        (f"{KEY_A},{KEY_A}", "twice"),
    ],
)
def test_a_malformed_key_ring_is_refused_without_showing_key_bytes(spec, message):
    with pytest.raises(crypto.KeyRingError, match=message) as caught:
        crypto.parse_key_ring(spec)
    encoded = spec.partition(":")[2]
    if len(encoded) > 8:
        assert encoded not in str(caught.value)


def test_generated_entries_parse():
    entry = crypto.generate_key_entry("k2026")
    ring = crypto.parse_key_ring(entry)
    assert ring.active_kid == "k2026"
    assert crypto.generate_key_entry() != crypto.generate_key_entry()
