"""The provider simulator fixtures of the health tests, for tests that run checks."""

from health.tests.conftest import sim_provider, simulator  # noqa: F401
