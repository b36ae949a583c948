"""Where the key ring comes from: VAULT_KEYS, the development key file, or nowhere (refuse)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from secrets_vault import crypto
from secrets_vault.checks import check_key_ring

ROOT = Path(__file__).resolve().parents[2]


def test_vault_keys_wins(settings):
    ring = crypto.get_key_ring()
    assert ring.active_kid == "test1"
    assert not Path(settings.VAULT_KEY_FILE).exists()


def test_in_development_a_key_file_is_created_once_with_mode_0600(settings, caplog):
    settings.VAULT_KEYS = ""
    settings.DEBUG = True
    caplog.set_level(logging.WARNING, logger="secrets_vault.crypto")

    ring = crypto.get_key_ring()
    crypto.reset_key_ring_cache()
    again = crypto.get_key_ring()

    path = Path(settings.VAULT_KEY_FILE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ring.keys == again.keys
    notices = [r for r in caplog.records if "created a development vault key" in r.getMessage()]
    assert len(notices) == 1
    assert str(path) in notices[0].getMessage()
    assert path.read_text().strip().partition(":")[2] not in caplog.text


def test_without_keys_and_debug_off_the_vault_refuses(settings):
    settings.VAULT_KEYS = ""
    settings.DEBUG = False

    with pytest.raises(crypto.KeyRingError, match="VAULT_KEYS is not set"):
        crypto.get_key_ring()
    assert not Path(settings.VAULT_KEY_FILE).exists()


def test_the_system_check_reports_an_error_without_keys_and_debug_off(settings):
    settings.VAULT_KEYS = ""
    settings.DEBUG = False

    errors = check_key_ring()

    assert [e.id for e in errors] == ["secrets_vault.E001"]
    assert isinstance(errors[0], Error)
    with pytest.raises(SystemCheckError, match="secrets_vault.E001"):
        call_command("check")


def test_the_system_check_reports_a_malformed_ring(settings):
    settings.VAULT_KEYS = "k1:tooshort"
    assert [e.id for e in check_key_ring()] == ["secrets_vault.E001"]


def test_the_system_check_passes_with_keys(settings):
    assert check_key_ring() == []


def _manage(tmp_path, *args, **env):
    environment = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAULT_KEY_FILE": str(tmp_path / "vault.keys"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_runserver_refuses_to_start_without_keys_when_debug_is_off(tmp_path):
    result = _manage(
        tmp_path, "runserver", "--noreload", "127.0.0.1:0",
        DEBUG="false", SECRET_KEY="x" * 50, VAULT_KEYS="",
    )

    assert result.returncode != 0
    assert "secrets_vault.E001" in result.stderr
    assert "VAULT_KEYS is not set" in result.stderr
    assert not (tmp_path / "vault.keys").exists()


def test_the_asgi_application_refuses_to_load_without_keys_when_debug_is_off(tmp_path):
    """What daphne imports: `daphne config.asgi:application` runs no system checks."""
    environment = {
        **os.environ, "DEBUG": "false", "SECRET_KEY": "x" * 50, "VAULT_KEYS": "",
        "VAULT_KEY_FILE": str(tmp_path / "vault.keys"), "VAR_DIR": str(tmp_path),
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", "import config.asgi"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "VAULT_KEYS is not set" in result.stderr
    assert not (tmp_path / "vault.keys").exists()


def _settings_value(tmp_path, expression: str, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "VAR_DIR": str(tmp_path), "VAULT_KEY_FILE": str(tmp_path / "vault.keys")}
    for name in ("DEBUG", "SECRET_KEY"):  # the suite imports its settings with DEBUG=1 (config/test_settings.py)
        environment.pop(name, None)
    environment.update(env)
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings"
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=120)


def test_debug_is_off_unless_the_environment_turns_it_on(tmp_path):
    off = _settings_value(tmp_path, "settings.DEBUG, settings.SESSION_COOKIE_SECURE", SECRET_KEY="x" * 50)
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == "False True"

    on = _settings_value(tmp_path, "settings.DEBUG", DEBUG="1")
    assert on.stdout.strip() == "True", on.stderr


def test_without_debug_a_secret_key_is_required(tmp_path):
    result = _settings_value(tmp_path, "settings.DEBUG")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_make_run_turns_debug_on_for_the_local_demo():
    makefile = (ROOT / "Makefile").read_text()
    assert "migrate seed run: export DEBUG ?= 1" in makefile
