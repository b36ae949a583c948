"""Shared by the cross-app tests in tests/.

Every browser test is marked `browser` (pyproject.toml); this is the one place that checks
Debian's Chromium is there before any of them, or its fixtures (a site process, a page), start.
"""

from __future__ import annotations

import pytest

from tests.browser import chromium_available

NO_CHROMIUM = "Debian's chromium is not installed: `make test` installs it (apt-get install chromium)"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("browser") is not None and not chromium_available():
        pytest.fail(NO_CHROMIUM)
