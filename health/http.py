"""The one module through which health checks talk to the network.

- One `requests` session per run (`new_session()`), `trust_env=False` (no proxy, netrc or CA
  overrides from the environment), no cookies kept, no redirects followed.
- Every address a host name resolves to is checked against `PROBE_DENIED_NETWORKS` before a
  socket is opened, and the connection goes to the checked address, so a second DNS answer
  cannot swap it.
- A probe has one deadline (`timeout_ms`) shared by all its requests and retries; the body is
  read in chunks up to `PROBE_MAX_RESPONSE_BYTES` and cut off beyond.
- Only connection failures are retried, up to the provider's `retries`.
- The credential is attached only to URLs on the provider's own endpoint (same scheme, host
  and port).

Failures are raised as `errors.ProbeFailure`, already classified.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError, ReadTimeoutError

from health import errors

USER_AGENT = "provider-console-health/1.0"
CHUNK_BYTES = 64 * 1024
RETRY_BACKOFF_SECONDS = 0.05


class BlockedAddress(Exception):
    """The target resolved to an address in a denied network; no socket was opened.

    Not an OSError on purpose: urllib3 and requests let it through unwrapped.
    """

    def __init__(self, address: str, network: str) -> None:
        super().__init__(address, network)
        self.address = address
        self.network = network


@lru_cache(maxsize=8)
def _parse_networks(specs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(spec.strip(), strict=False) for spec in specs if spec.strip())


def denied_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return _parse_networks(tuple(settings.PROBE_DENIED_NETWORKS))


def denied_network_of(address: str) -> str | None:
    """The denied network containing `address` (IPv4-mapped IPv6 is checked as IPv4), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in denied_networks():
        if ip.version == network.version and ip in network:
            return str(network)
    return None


def resolve_checked(host: str, port: int) -> list[str]:
    """Resolve `host` and return its addresses, refusing if any lies in a denied network."""
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        network = denied_network_of(address)
        if network is not None:
            raise BlockedAddress(address, network)
        if address not in addresses:
            addresses.append(address)
    return addresses


class _GuardedConnectionMixin:
    """Resolve, check every address, then connect to a checked address only."""

    def _new_conn(self) -> socket.socket:  # type: ignore[override]
        host = getattr(self, "_probe_host", None) or self._dns_host  # type: ignore[attr-defined]
        self._probe_host = host
        try:
            addresses = resolve_checked(host, self.port)  # type: ignore[attr-defined]
        except socket.gaierror as exc:
            raise NameResolutionError(host, self, exc) from exc  # type: ignore[arg-type]
        last_error: Exception | None = None
        for address in addresses:
            self._dns_host = address
            try:
                return super()._new_conn()  # type: ignore[misc]
            except NewConnectionError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


class NoCookies(RequestsCookieJar):
    """A cookie jar that keeps nothing: one provider's cookies never reach another."""

    def set_cookie(self, cookie: Any, *args: Any, **kwargs: Any) -> None:
        return None


def new_session(pool_size: int = 10) -> requests.Session:
    """A session for one run of checks; safe to share between the run's probe threads."""
    session = requests.Session()
    session.trust_env = False
    session.cookies = NoCookies()
    adapter = GuardedAdapter(pool_connections=16, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.clear()
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity"})
    return session


@dataclass(frozen=True)
class ProbeResponse:
    status_code: int
    body: bytes
    truncated: bool
    path: str


def origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _connection_reason(exc: BaseException) -> str:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__ or (
            current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        )
        if len(chain) > 20:
            break
    for item in chain:
        if isinstance(item, (NameResolutionError, socket.gaierror)):
            return "dns"
        if isinstance(item, ConnectionRefusedError):
            return "refused"
        if isinstance(item, (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
            return "reset"
        if isinstance(item, requests.exceptions.SSLError):
            return "tls"
    text = str(exc)
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "reset"
    return "other"


class ProbeClient:
    """The HTTP side of one probe of one provider: its endpoint, credential and deadline."""

    def __init__(
        self,
        *,
        endpoint: str,
        timeout_ms: int,
        retries: int = 0,
        credential: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.retries = max(0, retries)
        self._credential = credential
        self._origin = origin_of(endpoint)
        self.session = session or new_session()
        self.deadline = time.monotonic() + timeout_ms / 1000
        self.max_bytes = int(settings.PROBE_MAX_RESPONSE_BYTES)
        self.last_status: int | None = None

    def url(self, path: str) -> str:
        """`path` below the endpoint: `url("/models")` of `https://h/v1` is `https://h/v1/models`."""
        if not path:
            return self.endpoint
        return self.endpoint.rstrip("/") + "/" + path.lstrip("/")

    def _remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _headers_for(self, url: str) -> dict[str, str]:
        if self._credential and origin_of(url) == self._origin:
            return {"Authorization": f"Bearer {self._credential}"}
        return {}

    def get(self, path: str) -> ProbeResponse:
        return self.request("GET", path)

    def post_json(self, path: str, payload: dict[str, Any]) -> ProbeResponse:
        return self.request("POST", path, json=payload)

    def request(self, method: str, path: str, *, json: Any = None) -> ProbeResponse:
        url = self.url(path)
        shown_path = urlsplit(url).path or "/"
        attempt = 0
        while True:
            remaining = self._remaining()
            if remaining <= 0:
                raise errors.timeout(self.timeout_ms)
            try:
                return self._send_once(method, url, shown_path, json, remaining)
            except BlockedAddress as exc:
                raise errors.blocked(exc.address, exc.network) from None
            except (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout):
                raise errors.timeout(self.timeout_ms) from None
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema, requests.exceptions.URLRequired):
                raise errors.invalid_url() from None
            except requests.exceptions.ConnectionError as exc:
                # Connection failures only: the request never got an answer, so trying again
                # cannot double anything the server did with a response we saw.
                reason = _connection_reason(exc)
                if attempt < self.retries and reason != "dns":
                    attempt += 1
                    pause = min(RETRY_BACKOFF_SECONDS * attempt, max(self._remaining(), 0))
                    if pause > 0:
                        time.sleep(pause)
                    continue
                scheme, host, port = self._origin
                raise errors.unreachable(f"{host}:{port}", reason) from None
            except requests.exceptions.RequestException:
                raise errors.unreachable(f"{self._origin[1]}:{self._origin[2]}", "other") from None

    def _send_once(self, method: str, url: str, shown_path: str, json: Any, remaining: float) -> ProbeResponse:
        response = self.session.request(
            method,
            url,
            json=json,
            headers=self._headers_for(url),
            timeout=(remaining, remaining),
            allow_redirects=False,
            stream=True,
        )
        try:
            self.last_status = response.status_code
            body = bytearray()
            truncated = False
            try:
                for chunk in response.iter_content(CHUNK_BYTES):
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        del body[self.max_bytes :]
                        truncated = True
                        break
                    if self._remaining() <= 0:
                        raise errors.timeout(self.timeout_ms)
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                # While streaming, requests reports a read timeout as a ConnectionError.
                if isinstance(exc.args[0] if exc.args else None, ReadTimeoutError):
                    raise errors.timeout(self.timeout_ms) from None
                raise errors.unreachable(f"{self._origin[1]}:{self._origin[2]}", "reset") from None
            return ProbeResponse(response.status_code, bytes(body), truncated, shown_path)
        finally:
            response.close()
