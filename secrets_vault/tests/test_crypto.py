"""Envelope encryption: round trip, and every failure fails closed with a typed error."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from secrets_vault import crypto

KEY_A = "ka:" + base64.b64encode(b"a" * 32).decode()
KEY_B = "kb:" + base64.b64encode(b"b" * 32).decode()
WHERE = {"provider_id": "openai-prod", "field": "api_key", "version": 3}


@pytest.fixture
def ring():
    return crypto.parse_key_ring(KEY_A)


def flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_round_trip(ring):
    envelope = crypto.encrypt("sk-round-trip-value-é", ring=ring, **WHERE)

    assert envelope.kid == "ka"
    assert b"sk-round-trip" not in envelope.ciphertext
    assert crypto.decrypt(envelope, ring=ring, **WHERE) == "sk-round-trip-value-é"


def test_each_version_gets_its_own_data_key_and_nonces(ring):
    first = crypto.encrypt("same value", ring=ring, **WHERE)
    second = crypto.encrypt("same value", ring=ring, **WHERE)

    assert first.ciphertext != second.ciphertext
    assert first.wrapped_key != second.wrapped_key
    assert first.nonce != second.nonce and first.key_nonce != second.key_nonce


@pytest.mark.parametrize("part", ["ciphertext", "wrapped_key", "nonce", "key_nonce"])
@pytest.mark.parametrize("index", [0, -1])
def test_a_tampered_byte_fails_closed(ring, part, index):
    envelope = crypto.encrypt("sk-tamper-target-000", ring=ring, **WHERE)
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
    envelope = crypto.encrypt("sk-swap-target-00000", ring=ring, **WHERE)

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(envelope, ring=ring, **{**WHERE, **elsewhere})


def test_a_relabelled_kid_fails_closed():
    ring = crypto.parse_key_ring(f"{KEY_A},{KEY_B}")
    envelope = crypto.encrypt("sk-kid-swap-00000000", ring=ring, **WHERE)

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(dataclasses.replace(envelope, kid="kb"), ring=ring, **WHERE)


def test_an_unknown_kid_fails_closed(ring):
    envelope = crypto.encrypt("sk-unknown-kid-00000", ring=ring, **WHERE)
    other_ring = crypto.parse_key_ring(KEY_B)

    with pytest.raises(crypto.UnknownKeyError, match="'ka'"):
        crypto.decrypt(envelope, ring=other_ring, **WHERE)


def test_the_same_kid_with_another_key_fails_closed(ring):
    envelope = crypto.encrypt("sk-wrong-key-0000000", ring=ring, **WHERE)
    impostor = crypto.parse_key_ring("ka:" + base64.b64encode(b"z" * 32).decode())

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(envelope, ring=impostor, **WHERE)


def test_a_purged_record_raises_instead_of_returning_anything(ring):
    envelope = crypto.encrypt("sk-purged-value-0000", ring=ring, **WHERE)

    with pytest.raises(crypto.PurgedError):
        crypto.decrypt(dataclasses.replace(envelope, ciphertext=None), ring=ring, **WHERE)


def test_every_error_is_a_vault_error():
    for error in (crypto.DecryptionError, crypto.UnknownKeyError, crypto.PurgedError, crypto.KeyRingError):
        assert issubclass(error, crypto.VaultError)


def test_rewrap_moves_the_data_key_to_the_active_key_and_keeps_the_ciphertext():
    old = crypto.parse_key_ring(KEY_A)
    envelope = crypto.encrypt("sk-rewrap-value-0000", ring=old, **WHERE)
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
    old = crypto.encrypt("sk-old-key-value-000", ring=crypto.parse_key_ring(KEY_A), **WHERE)
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
