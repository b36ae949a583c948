"""Shared helpers for the vault tests."""

from __future__ import annotations

SECRET_URL = "/api/providers/{}/secret"
VERSIONS_URL = "/api/providers/{}/secret/versions"


def secret_action(client, provider_id: str, **body):
    return client.post(SECRET_URL.format(provider_id), body, format="json")


def versions(client, provider_id: str):
    return client.get(VERSIONS_URL.format(provider_id))
