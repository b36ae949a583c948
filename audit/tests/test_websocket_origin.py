"""The events websocket accepts its own origin only: scheme, host and port (or a trusted origin)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from audit.origin import parse_origin
from audit.tests.test_websocket import session_cookie
from config.asgi import application

pytestmark = pytest.mark.django_db


def connects(headers, **scope) -> bool:
    async def scenario() -> bool:
        ws = WebsocketCommunicator(application, "/ws/events/", headers=headers)
        ws.scope.update(scope)
        connected, _ = await ws.connect()
        await ws.disconnect()
        return connected

    return async_to_sync(scenario)()


@pytest.mark.parametrize(
    ("host", "origin", "scope", "accepted"),
    [
        ("testserver:8000", "http://testserver:8000", {}, True),
        ("TestServer:8000", "http://testserver:8000", {}, True),
        ("testserver", "http://testserver", {}, True),
        ("testserver", "http://testserver:80", {}, True),
        ("testserver:8000", "https://testserver:8000", {}, False),  # another scheme
        ("testserver:8000", "http://testserver:8001", {}, False),  # another port
        ("testserver:8000", "http://testserver", {}, False),  # port 80 is not 8000
        ("testserver:8000", "http://localhost:8000", {}, False),  # another allowed host is still another origin
        ("testserver:8000", "http://evil.example:8000", {}, False),
        ("evil.example:8000", "http://evil.example:8000", {}, False),  # a Host outside ALLOWED_HOSTS
        ("testserver", "https://testserver", {"scheme": "wss"}, True),
        ("testserver", "http://testserver", {"scheme": "wss"}, False),
        ("testserver:8000", "null", {}, False),
        ("testserver:8000", "http://user@testserver:8000", {}, False),
        ("testserver:8000", "http://testserver:notaport", {}, False),
        ("[::1]:8000", "http://[::1]:8000", {}, True),
    ],
)
def test_the_origin_must_be_the_sites_own(viewer_user, host, origin, scope, accepted):
    headers = [(b"host", host.encode()), (b"origin", origin.encode()), session_cookie(viewer_user)]
    assert connects(headers, **scope) is accepted


@pytest.mark.parametrize(
    ("origin", "scope", "accepted"),
    [
        ("http://testserver", {}, True),
        ("https://testserver", {}, False),
        ("http://testserver:8080", {}, False),
        ("http://testserver:8080", {"server": ("127.0.0.1", 8080)}, True),
        ("http://evil.example", {}, False),
    ],
)
def test_without_a_host_header_the_host_must_be_allowed_and_scheme_and_port_must_match(
    viewer_user, origin, scope, accepted
):
    headers = [(b"origin", origin.encode()), session_cookie(viewer_user)]
    assert connects(headers, **scope) is accepted


@pytest.mark.parametrize(
    ("trusted", "origin", "accepted"),
    [
        (["https://console.example.com"], "https://console.example.com", True),
        (["https://console.example.com"], "https://console.example.com:443", True),
        (["https://console.example.com"], "http://console.example.com", False),
        (["https://console.example.com"], "https://console.example.com:8443", False),
        (["https://*.example.com"], "https://console.example.com", True),
        (["https://*.example.com"], "https://console.example.org", False),
        ([], "https://console.example.com", False),
    ],
)
def test_a_proxy_origin_is_accepted_when_it_is_in_csrf_trusted_origins(viewer_user, settings, trusted, origin, accepted):
    settings.CSRF_TRUSTED_ORIGINS = trusted
    headers = [(b"host", b"testserver:8000"), (b"origin", origin.encode()), session_cookie(viewer_user)]
    assert connects(headers) is accepted


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(viewer_user, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    cookie = session_cookie(viewer_user)
    base = [(b"host", b"testserver"), cookie]
    assert connects([*base, (b"origin", b"https://testserver"), (b"x-forwarded-proto", b"https")]) is True
    assert connects([*base, (b"origin", b"https://testserver")]) is False
    assert connects([*base, (b"origin", b"http://testserver"), (b"x-forwarded-proto", b"https")]) is False


def test_parse_origin_keeps_scheme_host_and_port():
    assert parse_origin("HTTPS://Console.Example.com") == ("https", "console.example.com", 443)
    assert parse_origin("http://127.0.0.1:8000") == ("http", "127.0.0.1", 8000)
    assert parse_origin("http://[::1]:8000") == ("http", "::1", 8000)
    assert parse_origin("ftp://example.com") is None
    assert parse_origin("http://example.com/path") is None
