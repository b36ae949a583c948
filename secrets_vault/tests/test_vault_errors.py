"""Vault failures are actionable 409s, never 500s; no error page, log or repr shows a key.

Also the vault's own input rules that answer before anything else: a provider whose policy is
`none` is a 409 whatever the body, and a value that cannot go into an HTTP header is a 400
that does not echo it.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import secrets
from http import HTTPStatus

import pytest
from django.test import Client
from django.views import debug as django_debug

from health.runner import run_checks
from secrets_vault import crypto
from secrets_vault.api import get_credential
from secrets_vault.credentials import clear_credential_cache
from secrets_vault.models import SecretVersion
from secrets_vault.tests import debug_urls
from secrets_vault.tests.helpers import secret_action

pytestmark = pytest.mark.django_db

VALUE = "sk-test-0123456789abcdef"
OTHER = "sk-test-fedcba9876543210"


class Canary(str):
    """A secret value whose repr never shows it, so no failing assertion prints it."""

    def __repr__(self) -> str:
        return "<canary>"


def canary(prefix: str = "sk-cnry-") -> Canary:
    return Canary(prefix + secrets.token_hex(12))


# --- policy none: 409 before the body is looked at ------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"action": "bogus"},
        {"action": "set"},
        {"action": "set", "value": " spaced "},
        {"action": "set", "value": "line\r\nbreak"},
        {"action": "rotate", "value": 12345},
        {"action": "restore", "version": "x"},
        {"action": "clear", "unknown": True},
        ["not", "an", "object"],
    ],
)
def test_every_action_on_a_provider_without_secret_policy_is_409_whatever_the_body(admin_client, provider_factory, body):
    provider_factory(id="ollama-local", kind="ollama")

    response = admin_client.post("/api/providers/ollama-local/secret", body, format="json")

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {"detail": "No secret required: this provider's secret policy is 'none'."}


def test_a_body_that_is_not_json_on_a_provider_without_secret_policy_is_409(admin_client, provider_factory):
    provider_factory(id="ollama-local", kind="ollama")

    response = admin_client.post("/api/providers/ollama-local/secret", "{not json", content_type="application/json")

    assert response.status_code == HTTPStatus.CONFLICT


def test_the_policy_rule_comes_after_who_may_ask(viewer_client, provider_factory):
    provider_factory(id="ollama-local", kind="ollama")
    assert viewer_client.post("/api/providers/ollama-local/secret", {}, format="json").status_code == 403


# --- values that cannot go into an HTTP header ----------------------------------------------------


@pytest.mark.parametrize(
    ("inside", "problem"),
    [
        ("\r\n", "a line break"),
        ("\n", "a line break"),
        ("\r", "a line break"),
        ("\t", "a control character"),
        ("\x1b", "a control character"),
        ("\x7f", "a control character"),
        ("é", "a non-ASCII character"),
        ("\u2028", "a non-ASCII character"),
    ],
)
@pytest.mark.parametrize("action", ["set", "rotate"])
def test_a_value_that_cannot_go_into_a_header_is_400_without_echo(admin_client, provider, inside, problem, action):
    if action == "rotate":
        assert secret_action(admin_client, provider.id, action="set", value=VALUE).status_code == 200
    value = canary("sk-head-")
    bad = Canary(value[:12] + inside + value[12:])
    count = SecretVersion.objects.count()

    response = secret_action(admin_client, provider.id, action=action, value=bad)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    [message] = response.json()["value"]
    assert problem in message and "HTTP header" in message
    text = response.content.decode()
    assert value[:12] not in text and value[12:] not in text
    assert SecretVersion.objects.count() == count


def test_printable_ascii_with_inner_spaces_is_accepted(admin_client, provider):
    value = "sk-ok ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./0123"
    assert secret_action(admin_client, provider.id, action="set", value=value).status_code == HTTPStatus.OK
    assert get_credential(provider) == value


def test_the_panel_refuses_a_line_break_inline_without_echo(client, admin_user, provider):
    client.force_login(admin_user)
    value = canary("sk-panel-")

    response = client.post(f"/providers/{provider.id}/secret/", {"action": "set", "value": value[:9] + "\r\n" + value[9:]})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    text = response.content.decode()
    assert 'data-testid="error-value"' in text and "a line break" in text
    assert value[:9] not in text and value[9:] not in text
    assert not SecretVersion.objects.exists()


# --- a vault failure is a 409 naming the key id ----------------------------------------------------


@pytest.fixture
def key_gone(admin_client, provider, settings):
    """Two versions stored under the test key `test1`, then VAULT_KEYS without it."""
    assert secret_action(admin_client, provider.id, action="set", value=VALUE).status_code == 200
    assert secret_action(admin_client, provider.id, action="rotate", value=OTHER).status_code == 200
    settings.VAULT_KEYS = crypto.generate_key_entry("k-after")
    crypto.reset_key_ring_cache()
    clear_credential_cache()


def test_restoring_a_version_whose_key_is_gone_is_409_naming_the_key(admin_client, provider, key_gone):
    response = secret_action(admin_client, provider.id, action="restore", version=1)

    assert response.status_code == HTTPStatus.CONFLICT
    detail = response.json()["detail"]
    assert "'test1'" in detail and "VAULT_KEYS" in detail and "set the secret again" in detail
    assert response["Cache-Control"] == "no-store"
    assert SecretVersion.objects.count() == 2


def test_restoring_a_tampered_version_is_409_naming_the_key(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE)
    secret_action(admin_client, provider.id, action="rotate", value=OTHER)
    first = SecretVersion.objects.get(provider=provider, version=1)
    data = bytes(first.ciphertext)
    SecretVersion.objects.filter(pk=first.pk).update(ciphertext=data[:-1] + bytes([data[-1] ^ 1]))

    response = secret_action(admin_client, provider.id, action="restore", version=1)

    assert response.status_code == HTTPStatus.CONFLICT
    detail = response.json()["detail"]
    assert "'test1'" in detail and "backup" in detail and "set the secret again" in detail


def test_the_panel_shows_a_vault_failure_inline_as_409(client, admin_user, provider, key_gone):
    client.force_login(admin_user)

    response = client.post(f"/providers/{provider.id}/secret/", {"action": "restore", "version": "1"})

    assert response.status_code == HTTPStatus.CONFLICT
    text = html.unescape(response.content.decode())
    assert 'role="alert"' in text and "'test1'" in text and "VAULT_KEYS" in text


def test_a_probe_with_an_unreadable_secret_names_the_key_and_sends_nothing(provider, key_gone):
    [check] = run_checks([provider]).checks

    assert check.error_code == "missing_secret" and check.latency_ms is None
    assert "'test1'" in check.error_message and "VAULT_KEYS" in check.error_message


# --- no key in any printout -------------------------------------------------------------------------


def key_forms(raw: bytes) -> dict[str, str]:
    literal = repr(raw)
    return {
        "bytes literal": literal[2:-1],
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "urlsafe base64": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
    }


def shown(raw: bytes, text: str, *, window: int = 12) -> list[str]:
    """Which printed forms of `raw` appear in `text`, also in pieces (pprint wraps long bytes)."""
    found = []
    for name, form in key_forms(raw).items():
        pieces = {form[i : i + window] for i in range(0, max(1, len(form) - window + 1))}
        if any(piece in text for piece in pieces):
            found.append(name)
    return found


def debug_page(path: str) -> str:
    response = Client(raise_request_exception=False).get(path)
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    text = html.unescape(response.content.decode())
    assert "Traceback" in text and "Local vars" in text  # the technical page, with its variables
    return text


@pytest.fixture
def debug_site(settings):
    django_debug.get_default_exception_reporter_filter.cache_clear()  # the configured filter, not a cached one
    settings.DEBUG = True
    settings.ROOT_URLCONF = "secrets_vault.tests.debug_urls"
    raw = os.urandom(32)
    settings.VAULT_KEYS = "kdebug:" + base64.b64encode(raw).decode()
    crypto.reset_key_ring_cache()
    yield raw
    crypto.reset_key_ring_cache()


def test_the_debug_error_page_of_a_decryption_failure_shows_no_key(debug_site):
    page = debug_page("/decrypt-failure/")

    assert "DecryptionError" in page and "KeyRing(kids=['kdebug']" in page
    data_key = crypto.unwrap_data_key(debug_urls.LAST["envelope"], **debug_urls.WHERE)
    assert shown(debug_site, page) == []
    assert shown(data_key, page) == []
    assert "data_key" in page and "********************" in page  # listed, value hidden


def test_the_debug_error_page_of_a_malformed_key_ring_shows_no_key(debug_site, settings):
    first, second = os.urandom(32), os.urandom(32)
    settings.VAULT_KEYS = (
        f"kone:{base64.b64encode(first).decode()},ktwo:{base64.b64encode(second).decode()},kbad:not-base64!"
    )
    crypto.reset_key_ring_cache()

    page = debug_page("/key-ring-failure/")

    assert "KeyRingError" in page and "'kbad'" in page
    assert shown(first, page) == [] and shown(second, page) == []


def test_logging_a_key_ring_shows_key_ids_only(caplog):
    raw = os.urandom(32)
    ring = crypto.parse_key_ring("klog:" + base64.b64encode(raw).decode())
    with caplog.at_level(logging.INFO):
        logging.getLogger("secrets_vault").info("ring %s %r", ring, ring)
        logging.getLogger("secrets_vault").info("ring %s", {"ring": ring})

    assert "klog" in caplog.text
    assert shown(raw, caplog.text) == []
