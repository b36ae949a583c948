"""The benches' Django: production settings (DEBUG off, so no query log grows in memory) on a
fresh SQLite database and a generated key ring under `tmp`, migrated; no Redis."""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django(tmp: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["VAR_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["VAULT_KEYS"] = "bench1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    os.environ["LOG_LEVEL"] = "WARNING"
    # Pages render `{% static %}` without a collected manifest (nothing is collected here).
    os.environ.setdefault("STATIC_MANIFEST", "false")
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def bench_admin(username: str = "bench-admin"):
    """A user in the admin role (the group the migrations create), for the benches' requests."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    admin = get_user_model().objects.create_user(username, is_staff=True)
    admin.groups.add(Group.objects.get(name="admin"))
    return admin
