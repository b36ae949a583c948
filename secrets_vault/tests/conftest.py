from __future__ import annotations

import pytest

from secrets_vault import crypto
from secrets_vault.credentials import clear_credential_cache


@pytest.fixture(autouse=True)
def _fresh_vault_state():
    crypto.reset_key_ring_cache()
    clear_credential_cache()
    yield
    clear_credential_cache()


@pytest.fixture
def provider(provider_factory):
    """An openai_compatible provider: secret_policy=required."""
    return provider_factory(id="openai-prod")
