"""The production settings (docs/configuration.md, "Production"): `manage.py check --deploy`
passes with the documented variables and names what is missing otherwise; HSTS and the https
redirect apply only when the environment asks for them."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.test import Client

BASE_DIR = Path(__file__).resolve().parents[2]

# What docs/configuration.md lists for a site behind a TLS-terminating proxy.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "console.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://console.example.com",
    "BEHIND_TLS_PROXY": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def check_deploy(tmp_path, **overrides: str | None) -> subprocess.CompletedProcess:
    # Not the test run's own: DEBUG=1 (config/test_settings.py) and the browser tests'
    # DJANGO_ALLOW_ASYNC_UNSAFE (set at import by tests/test_browser*.py), which check --deploy
    # rightly refuses.
    inherited_only_by_tests = ("DEBUG", "VAULT_KEY_FILE", "VAR_DIR", "DJANGO_ALLOW_ASYNC_UNSAFE", "STATIC_MANIFEST")
    env = {key: value for key, value in os.environ.items() if key not in inherited_only_by_tests}
    env.update(
        PRODUCTION_ENV,
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(50),
        VAULT_KEYS="prod1:" + base64.b64encode(os.urandom(32)).decode(),
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_passes_with_the_documented_production_variables(tmp_path):
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("missing", "warning"),
    [
        ("SECURE_HSTS_SECONDS", "security.W004"),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "security.W005"),
        ("SECURE_HSTS_PRELOAD", "security.W021"),
        ("SECURE_SSL_REDIRECT", "security.W008"),
    ],
)
def test_check_deploy_fails_naming_what_is_missing(tmp_path, missing, warning):
    result = check_deploy(tmp_path, **{missing: None})
    assert result.returncode != 0
    assert warning in result.stderr, result.stderr


def test_check_deploy_fails_on_a_short_secret_key(tmp_path):
    result = check_deploy(tmp_path, SECRET_KEY="too-short-" + secrets.token_hex(4))
    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_check_deploy_fails_when_cookies_are_not_secure(tmp_path):
    result = check_deploy(tmp_path, SESSION_COOKIE_SECURE="false")
    assert result.returncode != 0
    assert "security.W012" in result.stderr


# -- the same settings at work, through the Django client ------------------------------------
@pytest.fixture
def behind_tls_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    return Client()  # its middleware is built on the first request, with these settings


@pytest.mark.django_db
def test_behind_the_proxy_https_gets_hsts_and_http_is_redirected(behind_tls_proxy):
    secure = behind_tls_proxy.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == HTTPStatus.OK
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    plain = behind_tls_proxy.get("/login/", headers={"X-Forwarded-Proto": "http"})
    assert plain.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert plain["Location"] == "https://testserver/login/"


@pytest.mark.django_db
def test_a_forwarded_proto_is_not_trusted_unless_behind_tls_proxy_says_so(behind_tls_proxy, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    response = Client().get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY


@pytest.mark.django_db
def test_the_local_defaults_serve_plain_http_without_hsts(client):
    response = client.get("/login/")
    assert response.status_code == HTTPStatus.OK
    assert "Strict-Transport-Security" not in response
