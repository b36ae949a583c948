"""The one module through which health checks talk to the network.

- One `requests` session per run (`new_session()`), `trust_env=False` (no proxy, netrc or CA
  overrides from the environment), no cookies kept, no redirects followed.
- Every address a host name resolves to is checked against `PROBE_DENIED_NETWORKS` when the
  socket opens (IPv4 addresses embedded in IPv4-mapped, NAT64 and 6to4 IPv6 addresses are
  checked as IPv4), and the socket connects to an address that was checked, so a second DNS
  answer cannot swap it. The host name itself is kept: TLS sends it as the server name (SNI),
  the certificate is verified against it, and every request's `Host` header carries it.
- Certificates are always verified, against `PROBE_CA_BUNDLE` when it is set (an internal CA),
  otherwise against the default bundle. A handshake or certificate failure is `tls_error`.
- A probe has one deadline (`timeout_ms`) shared by all its requests and retries, and it bounds
  every step: connecting, the TLS handshake, the headers and every read of the body (the socket
  timeout is set to the time left before each read). The body is read in chunks up to
  `PROBE_MAX_RESPONSE_BYTES` and cut off beyond.
- Only connection failures are retried, up to the provider's `retries`.
- The credential is attached only to URLs on its origin (same scheme, host and port): by
  default the provider's own endpoint, or the origin the secret was bound to.

Failures are raised as `errors.ProbeFailure`, already classified.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import os
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from contextvars import ContextVar
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
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError, ReadTimeoutError
from urllib3.util.connection import allowed_gai_family

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


Origin = tuple[str, str, int | None]
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, tuple[Any, ...]]

# The deadline (time.monotonic()) of the probe running in this thread, or None outside a probe.
# Sockets read it when they open and before every read.
_probe_deadline: ContextVar[float | None] = ContextVar("probe_deadline", default=None)

# IPv6 forms that carry an IPv4 address in their last 32 bits (RFC 6052 well-known NAT64 prefix).
NAT64_NETWORK = ipaddress.IPv6Network("64:ff9b::/96")


@lru_cache(maxsize=8)
def _parse_networks(specs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(spec.strip(), strict=False) for spec in specs if spec.strip())


def denied_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return _parse_networks(tuple(settings.PROBE_DENIED_NETWORKS))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`), NAT64
    (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::`); None for any other IPv6 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64_NETWORK:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def denied_network_of(address: str) -> str | None:
    """The denied network containing `address`, or None. An IPv6 address that embeds an IPv4
    address (IPv4-mapped, NAT64, 6to4) is denied when either form is in a denied network."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            candidates.insert(0, inner)
    for candidate in candidates:
        for network in denied_networks():
            if candidate.version == network.version and candidate in network:
                return str(network)
    return None


def resolve_checked(host: str, port: int) -> list[AddrInfo]:
    """Resolve `host`; refuse (BlockedAddress) if any address lies in a denied network, else
    return every (family, type, proto, sockaddr) to try, in the resolver's order."""
    if host.startswith("["):
        host = host.strip("[]")
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    checked: list[AddrInfo] = []
    for family, kind, proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        network = denied_network_of(address)
        if network is not None:
            raise BlockedAddress(address, network)
        if all(sockaddr != seen[3] for seen in checked):
            checked.append((family, kind, proto, sockaddr))
    return checked


def _time_left(timeout: Any) -> float | None:
    """The socket timeout to use now: `timeout` (a number, or None for none) bounded by the
    probe's deadline. Raises TimeoutError (socket.timeout) once the deadline has passed."""
    limit = float(timeout) if isinstance(timeout, (int, float)) else None
    deadline = _probe_deadline.get()
    if deadline is None:
        return limit
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the probe's deadline has passed")
    return remaining if limit is None else min(limit, remaining)


def connect_checked(
    host: str,
    port: int,
    timeout: Any,
    source_address: tuple[str, int] | None = None,
    socket_options: Sequence[tuple[int, int, int | bytes]] | None = None,
) -> socket.socket:
    """Open a TCP connection to `host`, only ever to an address `resolve_checked()` allowed.

    The addresses are checked before any socket exists, and the socket connects to the very
    sockaddr that was checked (never to a name resolved again). It leaves with its timeout set
    to the time left, so the TLS handshake that follows is bounded by the deadline too.
    """
    last_error: OSError | None = None
    for family, kind, proto, sockaddr in resolve_checked(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(_time_left(timeout))
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            sock.settimeout(_time_left(timeout))
            return sock
        except OSError as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                raise
            last_error = exc
    raise last_error or OSError(f"{host} resolved to no address")


class _DeadlineReader(io.RawIOBase):
    """A socket's read side that sets the socket timeout to the time left before every read,
    so a server that dribbles its headers or body cannot outlast the probe's deadline."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        if _probe_deadline.get() is not None:
            self._sock.settimeout(_time_left(None))
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineSocketView:
    """What `http.client.HTTPResponse` gets instead of the socket: it only calls makefile()."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock))


class DeadlineHTTPResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(_DeadlineSocketView(sock), *args, **kwargs)  # type: ignore[arg-type]


class _GuardedConnectionMixin:
    """Connect only to checked addresses; leave `host` alone (SNI, certificate, Host header)."""

    response_class = DeadlineHTTPResponse

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        try:
            sock = connect_checked(
                conn._dns_host, conn.port, conn.timeout,
                source_address=conn.source_address, socket_options=conn.socket_options,
            )
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
        sys.audit("http.client.connect", conn, conn.host, conn.port)
        return sock


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


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or DEFAULT_PORTS.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def normalize_origin(origin: Origin) -> Origin:
    scheme, host, port = origin
    scheme = scheme.lower()
    return scheme, host.lower().strip("[]"), port or DEFAULT_PORTS.get(scheme)


def ca_bundle() -> str | bool:
    """What `requests` verifies certificates against: the PROBE_CA_BUNDLE file, or True for
    the default bundle. Never False: certificates are always verified."""
    return str(settings.PROBE_CA_BUNDLE or "") or True


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError carries its cause here
        current = current.__cause__ or current.__context__ or (
            current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        ) or (reason if isinstance(reason, BaseException) else None)
        if len(chain) > 20:
            break
    return chain


# OpenSSL verification results (X509_V_ERR_*) grouped by what the operator has to do.
_UNTRUSTED_CODES = frozenset({2, 18, 19, 20, 21, 24, 27, 28})
_EXPIRED_CODES = frozenset({9, 10})
_NAME_CODES = frozenset({62, 64})


def _tls_problem(exc: BaseException) -> str | None:
    """`untrusted`, `hostname`, `expired` or `handshake` when `exc` is a TLS failure, else None."""
    chain = _exception_chain(exc)
    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError):
            code = item.verify_code
            if code in _NAME_CODES:
                return "hostname"
            if code in _EXPIRED_CODES:
                return "expired"
            if code in _UNTRUSTED_CODES:
                return "untrusted"
            return "certificate"
        if isinstance(item, ssl.CertificateError):
            return "hostname"
    if any(isinstance(item, (ssl.SSLError, requests.exceptions.SSLError)) for item in chain):
        return "handshake"
    return None


def _connection_reason(exc: BaseException) -> str:
    chain = _exception_chain(exc)
    for item in chain:
        if isinstance(item, (NameResolutionError, socket.gaierror)):
            return "dns"
        if isinstance(item, ConnectionRefusedError):
            return "refused"
        if isinstance(item, (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
            return "reset"
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
        credential_origin: Origin | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.retries = max(0, retries)
        self._credential = credential
        self._origin = origin_of(endpoint)
        # The only origin the credential may go to: the one its secret was bound to, if given.
        self._credential_origin = normalize_origin(credential_origin) if credential_origin else self._origin
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
        if self._credential and origin_of(url) == self._credential_origin:
            return {"Authorization": f"Bearer {self._credential}"}
        return {}

    def get(self, path: str) -> ProbeResponse:
        return self.request("GET", path)

    def post_json(self, path: str, payload: dict[str, Any]) -> ProbeResponse:
        return self.request("POST", path, json=payload)

    def _target(self) -> str:
        return f"{self._origin[1]}:{self._origin[2]}"

    def request(self, method: str, path: str, *, json: Any = None) -> ProbeResponse:
        url = self.url(path)
        shown_path = urlsplit(url).path or "/"
        verify = ca_bundle()
        if verify is not True and origin_of(url)[0] == "https" and not os.path.isfile(str(verify)):
            raise errors.tls_error(self._target(), "ca_bundle")
        attempt = 0
        while True:
            remaining = self._remaining()
            if remaining <= 0:
                raise errors.timeout(self.timeout_ms)
            token = _probe_deadline.set(self.deadline)
            try:
                return self._send_once(method, url, shown_path, json, remaining, verify)
            except BlockedAddress as exc:
                raise errors.blocked(exc.address, exc.network) from None
            except (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout):
                raise errors.timeout(self.timeout_ms) from None
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema, requests.exceptions.URLRequired):
                raise errors.invalid_url() from None
            except requests.exceptions.ConnectionError as exc:
                # A certificate that is not trusted, not for this name or expired stays so: no retry.
                problem = _tls_problem(exc)
                if problem is not None:
                    raise errors.tls_error(self._target(), problem) from None
                # Connection failures only: the request never got an answer, so trying again
                # cannot double anything the server did with a response we saw.
                reason = _connection_reason(exc)
                if attempt < self.retries and reason != "dns":
                    attempt += 1
                    pause = min(RETRY_BACKOFF_SECONDS * attempt, max(self._remaining(), 0))
                    if pause > 0:
                        time.sleep(pause)
                    continue
                raise errors.unreachable(self._target(), reason) from None
            except requests.exceptions.RequestException:
                raise errors.unreachable(self._target(), "other") from None
            finally:
                _probe_deadline.reset(token)

    def _send_once(
        self, method: str, url: str, shown_path: str, json: Any, remaining: float, verify: str | bool
    ) -> ProbeResponse:
        response = self.session.request(
            method,
            url,
            json=json,
            headers=self._headers_for(url),
            timeout=(remaining, remaining),
            allow_redirects=False,
            stream=True,
            verify=verify,
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
                raise errors.unreachable(self._target(), "reset") from None
            return ProbeResponse(response.status_code, bytes(body), truncated, shown_path)
        finally:
            response.close()
