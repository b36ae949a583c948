"""Fixtures the console's tests share with the apps' own tests: the provider simulator (health)
and a fresh key ring and credential cache for every test (the vault)."""

from health.tests.conftest import sim_provider, simulator  # noqa: F401
from secrets_vault.tests.conftest import _fresh_vault_state  # noqa: F401
