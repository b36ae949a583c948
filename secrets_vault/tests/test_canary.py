"""A random secret set through the API must appear nowhere but as ciphertext in its own row.

Every endpoint is exercised as admin and as viewer (API, pages, Django admin), the events API
and the broadcast websocket payloads are read, logs are captured at DEBUG, SQL included, and
every table of the database is scanned. The canary is searched for plain, base64- and
URL-encoded. Failures name where it was found, never the canary itself.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from urllib.parse import quote, quote_plus

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from rest_framework.test import APIClient

from audit.models import AuditEvent
from secrets_vault import crypto
from secrets_vault.models import SecretVersion

pytestmark = pytest.mark.django_db(transaction=False)

LOGGERS = ("", "django", "django.request", "django.server", "django.db.backends", "secrets_vault",
           "audit", "providers", "health", "accounts", "urllib3", "requests")


def encoded_forms(value: str) -> dict[str, bytes]:
    raw = value.encode()
    forms = {
        "plain": raw,
        "base64": base64.b64encode(raw),
        "base64-unpadded": base64.b64encode(raw).rstrip(b"="),
        "urlsafe-base64": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "url-encoded": quote(value, safe="").encode(),
        "form-encoded": quote_plus(value, safe="").encode(),
        "json-escaped": value.replace("/", "\\/").encode(),
    }
    return forms


def find(forms: dict[str, bytes], data: bytes | str, where: str) -> list[str]:
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    return [f"{where}: {name}" for name, form in forms.items() if form in data]


def client_for(user, *, session: bool) -> APIClient:
    client = APIClient(raise_request_exception=False)
    if session:
        client.force_login(user)
    else:
        client.force_authenticate(user=user)
    return client


def drain(layer, channel: str) -> list:
    async def receive_all():
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), timeout=0.2))
            except TimeoutError:
                return messages

    return async_to_sync(receive_all)()


def test_the_canary_secret_leaks_nowhere(
    admin_user, viewer_user, provider_factory, caplog, django_capture_on_commit_callbacks
):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    # Random, with characters that base64/URL encoding change; never printed.
    canary = f"sk-cnry+{secrets.token_urlsafe(24)}/{secrets.token_hex(8)}=&q%"
    forms = encoded_forms(canary)
    for user in (admin_user, viewer_user):
        user.is_staff = True
        user.save()
    provider = provider_factory(id="canary-prov", endpoint="http://127.0.0.1:9/v1", timeout_ms=1000)
    pid = provider.id
    leaks: list[str] = []
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("events", channel)

    try:
        api_admin = client_for(admin_user, session=False)
        with django_capture_on_commit_callbacks(execute=True):
            response = api_admin.post(
                f"/api/providers/{pid}/secret", {"action": "set", "value": canary, "secret_id_hint": "canary"},
                format="json",
            )
        assert response.status_code == 200
        leaks += find(forms, response.content, "POST secret set (admin)")
        leaks += find(forms, str(response.headers), "POST secret set headers (admin)")

        row = SecretVersion.objects.get(provider_id=pid)
        assert crypto.decrypt(row.envelope(), provider_id=pid, field=row.field, version=row.version) == canary
        version_pk = row.pk

        requests = [
            ("get", "/api/providers", None),
            ("get", "/api/providers?secret=present", None),
            ("get", "/api/providers?search=canary", None),
            ("get", f"/api/providers/{pid}", None),
            ("patch", f"/api/providers/{pid}", {"priority": 5}),
            # Another origin and back: admins re-bind the secret each way (audited), others get 403.
            ("patch", f"/api/providers/{pid}", {"endpoint": "http://127.0.0.1:10/v1"}),
            ("post", f"/api/providers/{pid}/test", {"deep": False}),
            ("patch", f"/api/providers/{pid}", {"endpoint": "http://127.0.0.1:9/v1"}),
            ("get", f"/api/providers/{pid}/secret/versions", None),
            ("post", f"/api/providers/{pid}/secret", {"action": "set", "value": canary}),  # 409 for admin
            ("post", f"/api/providers/{pid}/secret", {"action": "set", "value": " " + canary}),  # 400
            ("post", f"/api/providers/{pid}/secret", {"action": "rotate", "value": canary + "\r\nX-Other: 1"}),  # 400
            ("post", f"/api/providers/{pid}/secret", {"action": "set", "value": canary, "secret_id_hint": canary}),
            ("post", f"/api/providers/{pid}/test", {"deep": False}),
            ("post", "/api/providers/test-all", {}),
            ("get", f"/api/providers/{pid}/history", None),
            ("get", f"/api/providers/{pid}/metrics", None),
            ("get", "/api/events", None),
            ("get", f"/api/events?provider_id={pid}", None),
            ("get", "/api/routing-chain", None),
            ("post", "/api/routing-chain/preview", {"provider_id": pid, "changes": {"priority": 1}}),
            ("get", "/api/schema/", None),
            ("get", "/", None),
            ("get", f"/providers/{pid}/", None),
            ("get", f"/providers/{pid}/secret/", None),
            ("get", "/account/", None),
            ("get", "/admin/secrets_vault/secretversion/", None),
            ("get", f"/admin/secrets_vault/secretversion/{version_pk}/change/", None),
            ("get", f"/admin/secrets_vault/secretversion/{version_pk}/history/", None),
            ("get", "/admin/providers/provider/", None),
            ("get", f"/admin/providers/provider/{pid}/change/", None),
            ("get", "/admin/audit/auditevent/", None),
        ]
        for role, user in (("admin", admin_user), ("viewer", viewer_user)):
            for session in (False, True):
                client = client_for(user, session=session)
                for method, url, body in requests:
                    with django_capture_on_commit_callbacks(execute=True):
                        if body is None:
                            response = getattr(client, method)(url)
                        else:
                            response = getattr(client, method)(url, body, format="json")
                    where = f"{method.upper()} {url} ({role}, {'session' if session else 'token'}) -> {response.status_code}"
                    leaks += find(forms, response.content, where)
                    leaks += find(forms, str(response.headers), where + " headers")

        assert AuditEvent.objects.filter(event="secret.updated", payload__action="rebind").count() == 4

        # Every websocket payload broadcast while all this happened.
        for message in drain(layer, channel):
            leaks += find(forms, repr(message), "websocket broadcast")

        # Logs at DEBUG, SQL included.
        leaks += find(forms, caplog.text, "captured logs")
        for record in caplog.records:
            leaks += find(forms, repr(record.__dict__), f"log record {record.name}")

        # Every table: the canary exists only as the ciphertext of its row.
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names():
                cursor.execute(f'SELECT * FROM "{table}"')
                for values in cursor.fetchall():
                    for value in values:
                        data = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                        leaks += find(forms, data, f"table {table}")
    finally:
        connection.force_debug_cursor = False
        async_to_sync(layer.group_discard)("events", channel)

    assert not leaks, "canary found in: " + "; ".join(sorted(set(leaks)))
