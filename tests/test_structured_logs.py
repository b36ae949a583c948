"""Structured logs through the real entry points: the access line, the request context on
other lines (WSGI-style client and the ASGI handler, where sync views run in a thread pool),
and secrets masked in both formats, the JSON fields and tracebacks included.

The site's own `LOGGING` is applied with its console handler writing to a buffer; the JSON
format is the one `LOG_FORMAT=json` selects. The last test runs the site under daphne with
`LOG_FORMAT=json` and parses its whole log (tests/test_deploy.py does the same for the workers
started as docs/deploy.md starts them).
"""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import re
import secrets

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import AsyncClient
from django.urls import include, path
from rest_framework.test import APIClient

from accounts.models import ApiToken
from core.timefmt import ISO_UTC_PATTERN
from secrets_vault import crypto
from secrets_vault.credentials import clear_credential_cache

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

view_logger = logging.getLogger("tests.structured_logs")


def logging_view(request):
    """A sync view that logs, as the site's views do (no request passed to the logger)."""
    view_logger.warning("inside the view")
    return HttpResponse("ok")


def failing_view(request):
    raise RuntimeError(f"upstream refused api_key={request.GET.get('k', '')}")


# The site's URLs, plus two views of this module's own.
urlpatterns = [
    path("logging-view/", logging_view),
    path("failing-view/", failing_view),
    path("", include(settings.ROOT_URLCONF)),
]


@pytest.fixture(autouse=True)
def _fresh_vault_state():
    crypto.reset_key_ring_cache()
    clear_credential_cache()
    yield
    clear_credential_cache()


class SiteLog:
    """The site's LOGGING with its console handler writing here, in the format asked for."""

    def __init__(self):
        self.buffer = io.StringIO()

    def configure(self, log_format: str) -> SiteLog:
        config = copy.deepcopy(settings.LOGGING)
        config["handlers"]["console"]["formatter"] = log_format
        config["handlers"]["console"]["stream"] = self.buffer
        logging.config.dictConfig(config)
        return self

    def text(self) -> str:
        return self.buffer.getvalue()

    def entries(self) -> list[dict]:
        """Every line, parsed: a line that is not one JSON object fails the test."""
        return [json.loads(line) for line in self.text().splitlines()]

    def access(self) -> list[dict]:
        return [entry for entry in self.entries() if entry["logger"] == "access"]


@pytest.fixture
def site_log():
    log = SiteLog()
    yield log
    logging.config.dictConfig(settings.LOGGING)


def test_json_access_line_has_the_request_its_status_duration_and_user(site_log, admin_user, client):
    site_log.configure("json")
    client.force_login(admin_user)
    response = client.get("/api/providers", {"page": "1"})
    assert response.status_code == 200

    (line,) = site_log.access()
    assert line["level"] == "INFO"
    assert re.match(ISO_UTC_PATTERN, line["time"])
    assert line["method"] == "GET"
    assert line["path"] == "/api/providers"  # never the query string
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user"] == "alice"
    assert "page=1" not in json.dumps(line)


def test_bearer_token_user_and_anonymous_requests(site_log, admin_user):
    site_log.configure("json")
    _, token = ApiToken.issue(admin_user, name="logs")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/providers").status_code == 200
    assert APIClient().get("/api/providers").status_code == 401

    token_line, anonymous_line = site_log.access()
    assert token_line["user"] == "alice"
    assert anonymous_line["user"] is None and anonymous_line["status"] == 401
    assert token not in site_log.text()


def test_a_line_logged_by_a_view_carries_its_request(site_log, admin_user, client):
    site_log.configure("json")
    client.force_login(admin_user)
    response = client.get("/logging-view/")

    view_line = next(entry for entry in site_log.entries() if entry["message"] == "inside the view")
    assert view_line["logger"] == "tests.structured_logs"
    assert view_line["level"] == "WARNING"
    assert view_line["request_id"] == response["X-Request-ID"]
    assert view_line["path"] == "/logging-view/"
    assert "status" not in view_line and "duration_ms" not in view_line
    # A line after the request has none of it.
    view_logger.warning("after the request")
    after = next(entry for entry in site_log.entries() if entry["message"] == "after the request")
    assert "request_id" not in after and "path" not in after


def test_the_request_context_reaches_a_sync_view_under_asgi(site_log):
    """Django's ASGI handler (what daphne runs) calls the middleware on the event loop and the
    sync view in asgiref's thread pool; the context variable must cross into the thread."""
    site_log.configure("json")
    response = async_get("/logging-view/")
    assert response.status_code == 200

    view_line = next(entry for entry in site_log.entries() if entry["message"] == "inside the view")
    (access_line,) = site_log.access()
    assert view_line["request_id"] == access_line["request_id"] == response["X-Request-ID"]


def async_get(url: str):
    from asgiref.sync import async_to_sync

    return async_to_sync(AsyncClient().get)(url)


def test_django_request_lines_carry_their_request_and_status(site_log):
    site_log.configure("json")
    response = APIClient().get("/no-such-page/")
    assert response.status_code == 404

    not_found = next(entry for entry in site_log.entries() if entry["logger"] == "django.request")
    assert not_found["status"] == 404
    assert not_found["request_id"] == response["X-Request-ID"]
    assert not_found["path"] == "/no-such-page/"


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_no_canary_in_any_log_line(log_format, site_log, admin_user, provider_factory):
    """A secret set through the API, a bearer token, a query string, an exception's text and a
    field passed with `extra=`: none of them reaches the log, in either format."""
    site_log.configure(log_format)
    provider_factory(id="openai-prod")
    canary = "canary-" + secrets.token_urlsafe(24)
    token_canary = "tok" + secrets.token_hex(20)

    admin = APIClient(raise_request_exception=False)
    admin.force_authenticate(user=admin_user)
    answer = admin.post("/api/providers/openai-prod/secret", {"action": "set", "value": canary}, format="json")
    assert answer.status_code == 200, answer.content
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Bearer {token_canary}")
    assert stranger.get(f"/api/providers?api_key={token_canary}").status_code == 401
    assert admin.get(f"/api/providers?token={canary}&x={token_canary}").status_code == 200
    assert admin.get(f"/failing-view/?k={canary}").status_code == 500
    logging.getLogger("tests.structured_logs").warning(
        "upstream answered", extra={"detail": f"key {canary}", "attempts": [f"Bearer {token_canary}"]}
    )

    text = site_log.text()
    leaks = [name for name, value in {"secret": canary, "token": token_canary}.items() if value in text]
    assert leaks == []  # names what leaked, never the value
    assert "/api/providers/openai-prod/secret" in text  # the log is the one written
    if log_format == "json":
        entries = site_log.entries()
        failure = next(entry for entry in entries if entry["logger"] == "django.request" and entry["status"] == 500)
        assert "RuntimeError: upstream refused api_key=***" in failure["exc_info"]
        extra_line = next(entry for entry in entries if entry["message"] == "upstream answered")
        assert extra_line["detail"] == "key ***" and extra_line["attempts"] == ["Bearer ***"]
        assert [entry["status"] for entry in site_log.access()] == [200, 401, 200, 500]
    else:
        assert "POST /api/providers/openai-prod/secret 200" in text
        assert "RuntimeError: upstream refused api_key=***" in text


def test_websockets_have_access_lines_without_their_query_string(site_log, viewer_user):
    """A handshake's answer (101 accepted, 403 refused) and an accepted socket's close."""
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from audit.tests.test_websocket import session_cookie
    from config.asgi import application

    site_log.configure("json")
    canary = "tok" + secrets.token_hex(20)
    cookie = session_cookie(viewer_user)

    async def handshake(origin: str) -> bool:
        headers = [(b"host", b"testserver"), (b"origin", origin.encode()), cookie]
        ws = WebsocketCommunicator(application, f"/ws/events/?token={canary}", headers=headers)
        connected, _ = await ws.connect()
        await ws.disconnect()
        return connected

    assert async_to_sync(handshake)("http://testserver") is True
    assert async_to_sync(handshake)("http://evil.example") is False

    lines = [entry for entry in site_log.access() if entry["method"] == "WEBSOCKET"]
    assert [(entry["path"], entry["status"], entry["event"]) for entry in lines] == [
        ("/ws/events/", 101, "accepted"), ("/ws/events/", 101, "closed"), ("/ws/events/", 403, "refused"),
    ]
    assert lines[1]["duration_ms"] >= lines[0]["duration_ms"]
    assert canary not in site_log.text()


def test_log_format_is_plain_by_default_and_refuses_other_values():
    import subprocess
    import sys

    from tests.site_process import BASE_DIR

    def settings_value(log_format: str | None) -> subprocess.CompletedProcess:
        env = {"DEBUG": "1", "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin"}
        if log_format is not None:
            env["LOG_FORMAT"] = log_format
        code = "import django; django.setup(); from django.conf import settings; print(settings.LOGGING['handlers']['console']['formatter'])"
        return subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60)

    assert settings_value(None).stdout.strip() == "plain"
    assert settings_value("json").stdout.strip() == "json"
    refused = settings_value("xml")
    assert refused.returncode != 0 and "LOG_FORMAT='xml'" in refused.stderr


def test_a_daphne_site_with_log_format_json_writes_only_json_lines():
    """The real server: every line of its output is a JSON object, the access line of a
    request has the response's X-Request-ID, and Django's line about a 404 (logged in the
    handler, under daphne) has the same id as that request's access line."""
    import requests

    from tests.site_process import configured_site

    with configured_site(env={"LOG_FORMAT": "json"}) as site:
        token = site.operators_with_token({"alice": ("admin", None)}, token_for="alice")
        api = site.api_session(token)
        answer = api.get(site.url + "/api/providers", params={"api_key": token}, timeout=30)
        missing = requests.get(site.url + "/no-such-page/", timeout=30)
        text = site.log_text()
        assert (answer.status_code, missing.status_code) == (200, 404), text[-3000:]

    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"line {number} of the site's log is not JSON: {line[:200]}")
    by_id = {}
    for entry in entries:
        by_id.setdefault(entry.get("request_id"), []).append(entry)
    (access,) = [entry for entry in by_id[answer.headers["X-Request-ID"]] if entry["logger"] == "access"]
    assert (access["path"], access["status"], access["user"]) == ("/api/providers", 200, "alice")
    loggers = sorted(entry["logger"] for entry in by_id[missing.headers["X-Request-ID"]])
    assert loggers == ["access", "django.request"]
    assert token not in text
