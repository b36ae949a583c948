"""Same-origin check for websockets: scheme, host and port, not the host alone.

A browser sends `Origin` with every websocket handshake; a page on another origin could
otherwise open the stream with the user's session cookie. The handshake is accepted when the
origin is the site's own, the one the browser asked for in `Host` (a name in ALLOWED_HOSTS)
with the scheme of the connection (`https` for `wss`, or behind a proxy that says so with
SECURE_PROXY_SSL_HEADER) and the port (the scheme's default when none is given), or when it
is one of CSRF_TRUSTED_ORIGINS (`https://*.example.com` allows subdomains, as Django's CSRF
check does). Anything else, a missing `Origin` included, is refused before the consumer runs.

Without a `Host` header (an in-process test client) the host must be in ALLOWED_HOSTS and the
port is the server's when the scope names it, else the scheme's default.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int


def parse_origin(value: str) -> Origin | None:
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.username:
        return None
    return Origin(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme])


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def _headers(scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers") or []}


def _scheme(scope, headers: dict[bytes, bytes]) -> str:
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, expected = proxy
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
        value = headers.get(header, b"").decode("latin1").split(",")[0].strip()
        if value == expected:
            return "https"
    return "http"


def origin_allowed(scope) -> bool:
    headers = _headers(scope)
    raw = headers.get(b"origin")
    if raw is None:
        return False
    origin = parse_origin(raw.decode("latin1"))
    if origin is None:
        return False
    if _trusted(origin):
        return True
    scheme = _scheme(scope, headers)
    host_header = headers.get(b"host")
    if host_header is not None:
        domain, port = split_domain_port(host_header.decode("latin1"))
        if not domain or not validate_host(domain, _allowed_hosts()):
            return False
        site = parse_origin(f"{scheme}://{domain}" + (f":{port}" if port else ""))
        return site is not None and origin == site
    server = scope.get("server")
    port = server[1] if server and server[1] else DEFAULT_PORTS[scheme]
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    return origin.scheme == scheme and origin.port == port and validate_host(host, _allowed_hosts())


def _trusted(origin: Origin) -> bool:
    for pattern in settings.CSRF_TRUSTED_ORIGINS:
        if "*" in pattern:
            parts = urlsplit(pattern.lower())
            netloc = parts.netloc.removeprefix("*")  # ".example.com[:port]"
            host, _, port = netloc.partition(":")
            wanted_port = int(port) if port.isdigit() else DEFAULT_PORTS.get(parts.scheme)
            if parts.scheme == origin.scheme and origin.port == wanted_port and is_same_domain(origin.host, host):
                return True
        elif parse_origin(pattern) == origin:
            return True
    return False


class SameOriginValidator:
    """ASGI middleware: websocket handshakes from another origin are refused (403)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await _refuse(receive, send)
        return await self.application(scope, receive, send)


async def _refuse(receive, send) -> None:
    """Close before accept (the server answers the handshake with 403); no consumer, no
    channel layer involved."""
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close"})
        elif message["type"] == "websocket.disconnect":
            return
