"""The settings the test suite runs with: the site's own, read as `make run` reads them.

`DEBUG` defaults to off in `config.settings`; the suite imports it with `DEBUG=1` (unless the
environment says otherwise) so the defaults that follow DEBUG are the local demo's: the
development SECRET_KEY, cookies without `Secure` for the browser tests on http://127.0.0.1,
and the development vault key file for modules imported before a test sets `VAULT_KEYS`
(`config.asgi` loads the key ring when it is imported). pytest-django then runs every test with
DEBUG off; a test that needs it on sets it. Subprocesses a test starts inherit the same `DEBUG`.
"""

import os

os.environ.setdefault("DEBUG", "1")
# The apps' static files as they are, even with DEBUG=0: the suite never runs collectstatic
# (tests/test_static_files.py does, for a site of its own).
os.environ.setdefault("STATIC_MANIFEST", "0")

from config.settings import *  # noqa: E402,F403
