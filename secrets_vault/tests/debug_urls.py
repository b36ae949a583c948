"""Views that fail inside the vault, for the DEBUG error page test (test_vault_errors.py)."""

from __future__ import annotations

import dataclasses

from django.http import HttpResponse
from django.urls import path

from secrets_vault import crypto

WHERE = {"provider_id": "p1", "field": "api_key", "version": 1}
LAST: dict[str, crypto.Envelope] = {}


def decrypt_failure(request):
    ring = crypto.get_key_ring()
    envelope = crypto.encrypt("sk-debug-page-value-001", ring=ring, origin="https://a.example:443", **WHERE)
    tampered = dataclasses.replace(envelope, ciphertext=bytes([envelope.ciphertext[0] ^ 1]) + envelope.ciphertext[1:])
    LAST["envelope"] = tampered
    return HttpResponse(crypto.decrypt(tampered, ring=ring, **WHERE))


def key_ring_failure(request):
    ring = crypto.get_key_ring()
    return HttpResponse(repr(ring))


urlpatterns = [
    path("decrypt-failure/", decrypt_failure),
    path("key-ring-failure/", key_ring_failure),
]
