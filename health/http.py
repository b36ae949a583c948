"""The one module through which health checks talk to the network.

- The exchanges run on one event loop (aiohttp on health/probe_loop.py's thread) behind a
  synchronous `ProbeClient`; one `ProbeSession` per run (`new_session()`), `trust_env=False`
  (no proxy, netrc or CA overrides from the environment), no cookies kept, no redirects followed.
- Every address a host name resolves to is checked against `PROBE_DENIED_NETWORKS` before a
  connection opens (IPv4 addresses embedded in IPv4-mapped, NAT64 and 6to4 IPv6 addresses are
  checked as IPv4; an address written in the URL is checked too), and the socket connects to an
  address that was checked, so a second DNS answer cannot swap it. The host name itself is kept: TLS sends it as the server name (SNI),
  the certificate is verified against it, and every request's `Host` header carries it.
- Certificates are always verified, against `PROBE_CA_BUNDLE` when it is set (an internal CA),
  otherwise against the default bundle. A handshake or certificate failure is `tls_error`.
- A probe has one deadline (`timeout_ms`) shared by all its requests and retries, and it bounds
  every step: connecting, the TLS handshake, the headers and every read of the body (the whole
  exchange runs under `asyncio.timeout_at` the deadline). The body is read in chunks up to
  `PROBE_MAX_RESPONSE_BYTES` and cut off beyond.
- Only connection failures are retried, up to the provider's `retries`.
- The credential is attached only to URLs on its origin (same scheme, host and port): by
  default the provider's own endpoint, or the origin the secret was bound to.

Failures are raised as `errors.ProbeFailure`, already classified.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import os
import socket
import ssl
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from aiohttp.abc import AbstractResolver, ResolveResult
from django.conf import settings

from health import errors, probe_loop

USER_AGENT = "provider-console-health/1.0"
CHUNK_BYTES = 64 * 1024
RETRY_BACKOFF_SECONDS = 0.05


class BlockedAddress(Exception):
    """The target resolved to an address in a denied network; no socket was opened.

    Not an OSError on purpose: aiohttp lets it through unwrapped (it wraps a resolver's OSError
    as a DNS failure).
    """

    def __init__(self, address: str, network: str) -> None:
        super().__init__(address, network)
        self.address = address
        self.network = network


Origin = tuple[str, str, int | None]
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, tuple[Any, ...]]

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
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    checked: list[AddrInfo] = []
    for family, kind, proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        network = denied_network_of(address)
        if network is not None:
            raise BlockedAddress(address, network)
        if all(sockaddr != seen[3] for seen in checked):
            checked.append((family, kind, proto, sockaddr))
    return checked


class CheckedResolver(AbstractResolver):
    """aiohttp's name lookup, through `resolve_checked()`: a name with any address in a denied
    network is refused (BlockedAddress) before a socket exists, and aiohttp connects to the
    very addresses returned here (never to a name resolved again), while it keeps the name for
    the TLS server name, the certificate check and the `Host` header."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        infos = await asyncio.get_running_loop().run_in_executor(None, resolve_checked, host, port)
        return [
            ResolveResult(
                hostname=host, host=str(sockaddr[0]), port=int(sockaddr[1]), family=family_,
                proto=proto, flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for family_, _kind, proto, sockaddr in infos
        ]

    async def close(self) -> None:
        return None


def check_address_literal(host: str) -> None:
    """aiohttp does not ask the resolver about an address written in the URL: check it here."""
    address = host.strip("[]")
    network = _literal_denied(address, tuple(settings.PROBE_DENIED_NETWORKS))
    if network is not None:
        raise BlockedAddress(address, network)


@lru_cache(maxsize=4096)
def _literal_denied(address: str, _denied: tuple[str, ...]) -> str | None:
    """The denied network of an address literal, None for a name (checked when resolved) or an
    allowed address. Cached: a run asks once per probe, mostly about the same few hosts."""
    try:
        ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    return denied_network_of(address)


@lru_cache(maxsize=8)
def _tls_context(bundle: str, _version: tuple[int, int]) -> ssl.SSLContext:
    """Certificates verified against `bundle`, host names checked; one context per bundle file
    version (building one reads and parses the whole bundle: ~10 ms, not per probe)."""
    return ssl.create_default_context(cafile=bundle)


def tls_context() -> ssl.SSLContext:
    bundle = str(settings.PROBE_CA_BUNDLE or "") or certifi.where()
    stat = os.stat(bundle)
    return _tls_context(bundle, (stat.st_mtime_ns, stat.st_size))


class ProbeSession:
    """The connections of one run of checks, shared by its probes (keep-alive per origin).

    An aiohttp session on the probe loop (health/probe_loop.py), made on first use:
    `trust_env=False` (no proxy, netrc or CA overrides from the environment), a cookie jar that
    keeps nothing (one provider's cookies never reach another), name lookups through
    `CheckedResolver` with no cache (each new connection is checked), no limit of its own on
    connections (the run's concurrency is PROBE_MAX_CONCURRENCY). `close()` when the run ends.
    """

    def __init__(self, pool_size: int = 10) -> None:
        self.pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    def client(self) -> aiohttp.ClientSession:
        """The aiohttp session; only on the probe loop."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, resolver=CheckedResolver(), use_dns_cache=False, ssl=True, enable_cleanup_closed=False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity"},
                timeout=aiohttp.ClientTimeout(total=None),  # the probe's own deadline bounds each exchange
            )
            # aiohttp would send an idempotent request once more when a kept-alive connection
            # drops it; retries are the provider's `retries`, counted by ProbeClient alone.
            self._session._retry_connection = False
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def close(self) -> None:
        if self._session is not None:
            probe_loop.wait(self.aclose())

    def close_soon(self) -> concurrent.futures.Future[None]:
        """Start closing on the probe loop and return at once; `.result()` waits for it. Not from
        a probe: from the thread that ran the run (closing 1,000 connections takes 20-100 ms)."""
        return asyncio.run_coroutine_threadsafe(self.aclose(), probe_loop.loop())


def new_session(pool_size: int = 10) -> ProbeSession:
    """The connections for one run of checks; shared by the run's probes."""
    return ProbeSession(pool_size)


@dataclass(frozen=True)
class ProbeResponse:
    status_code: int
    body: bytes
    truncated: bool
    path: str


DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=4096)  # a pure function of the text; every run asks again for every endpoint
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
    """What certificates are verified against: the PROBE_CA_BUNDLE file, or True for the
    default bundle (certifi's). Never False: certificates are always verified."""
    return str(settings.PROBE_CA_BUNDLE or "") or True


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        # aiohttp keeps the cause in attributes: the certificate error, the OS error.
        carried = getattr(current, "certificate_error", None) or getattr(current, "os_error", None)
        current = current.__cause__ or current.__context__ or (
            carried if isinstance(carried, BaseException) and carried is not current else None
        )
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
        if isinstance(item, aiohttp.ClientConnectorCertificateError):
            item = item.certificate_error  # the wrapper is a CertificateError too, with no code
        if isinstance(item, ssl.SSLCertVerificationError):
            code = getattr(item, "verify_code", None)
            if code in _NAME_CODES:
                return "hostname"
            if code in _EXPIRED_CODES:
                return "expired"
            if code in _UNTRUSTED_CODES:
                return "untrusted"
            return "certificate"
        if isinstance(item, ssl.CertificateError):
            return "hostname"
    if any(isinstance(item, (ssl.SSLError, aiohttp.ClientSSLError)) for item in chain):
        return "handshake"
    return None


def _connection_reason(exc: BaseException) -> str:
    chain = _exception_chain(exc)
    for item in chain:
        if isinstance(item, (aiohttp.ClientConnectorDNSError, socket.gaierror)):
            return "dns"
        if isinstance(item, ConnectionRefusedError):
            return "refused"
        if isinstance(item, (ConnectionResetError, aiohttp.ServerDisconnectedError, BrokenPipeError)):
            return "reset"
    return "other"


# Failures before any answer arrived: the request may be sent again (see ProbeClient.request).
_NO_ANSWER = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class ProbeClient:
    """The HTTP side of one probe of one provider: its endpoint, credential and deadline.

    Its methods are synchronous; each exchange runs on the probe loop (health/probe_loop.py).
    Without a `session`, each request has connections of its own, closed after it.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        timeout_ms: int,
        retries: int = 0,
        credential: str | None = None,
        credential_origin: Origin | None = None,
        session: ProbeSession | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.retries = max(0, retries)
        self._credential = credential
        self._origin = origin_of(endpoint)
        # The only origin the credential may go to: the one its secret was bound to, if given.
        self._credential_origin = normalize_origin(credential_origin) if credential_origin else self._origin
        self.session = session
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

    def request(
        self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ProbeResponse:
        """One exchange. `data` (raw bytes, sent as they are: a signature over them stays true)
        and `headers` are for the alerts' webhooks; probes send `json`."""
        url = self.url(path)
        verify = ca_bundle()
        if verify is not True and origin_of(url)[0] == "https" and not os.path.isfile(str(verify)):
            raise errors.tls_error(self._target(), "ca_bundle")
        return probe_loop.wait(self._request(method, url, json, data, headers))

    async def _request(
        self, method: str, url: str, json: Any, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> ProbeResponse:
        if self.session is not None:
            return await self._attempts(self.session, method, url, json, data, headers)
        own = ProbeSession()
        try:
            return await self._attempts(own, method, url, json, data, headers)
        finally:
            await own.aclose()

    async def _attempts(
        self, session: ProbeSession, method: str, url: str, json: Any, data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ProbeResponse:
        parts = urlsplit(url)
        shown_path = parts.path or "/"
        attempt = 0
        while True:
            if self._remaining() <= 0:
                raise errors.timeout(self.timeout_ms)
            try:
                # One deadline for the whole exchange: connecting, the TLS handshake, the
                # headers and every read of the body (loop time is time.monotonic()).
                async with asyncio.timeout_at(self.deadline):
                    check_address_literal(parts.hostname or "")
                    return await self._send_once(session, method, url, shown_path, json, data, headers)
            except BlockedAddress as exc:
                raise errors.blocked(exc.address, exc.network) from None
            except TimeoutError:  # asyncio.timeout_at's, and aiohttp's own timeouts
                raise errors.timeout(self.timeout_ms) from None
            except aiohttp.InvalidURL:
                raise errors.invalid_url() from None
            except aiohttp.ClientError as exc:
                # A certificate that is not trusted, not for this name or expired stays so: no retry.
                problem = _tls_problem(exc)
                if problem is not None:
                    raise errors.tls_error(self._target(), problem) from None
                reason = _connection_reason(exc)
                if not isinstance(exc, _NO_ANSWER):
                    raise errors.unreachable(self._target(), reason) from None
                # Connection failures only: the request never got an answer, so trying again
                # cannot double anything the server did with a response we saw.
                if attempt < self.retries and reason != "dns":
                    attempt += 1
                    pause = min(RETRY_BACKOFF_SECONDS * attempt, max(self._remaining(), 0))
                    if pause > 0:
                        await asyncio.sleep(pause)
                    continue
                raise errors.unreachable(self._target(), reason) from None
            except ValueError:  # after ClientError: aiohttp's certificate errors are ValueErrors too
                raise errors.invalid_url() from None

    async def _send_once(
        self, session: ProbeSession, method: str, url: str, shown_path: str, json: Any,
        data: bytes | None = None, headers: dict[str, str] | None = None,
    ) -> ProbeResponse:
        async with session.client().request(
            method,
            url,
            json=json,
            data=data,
            headers={**(headers or {}), **self._headers_for(url)},
            allow_redirects=False,
            ssl=tls_context() if url[:6].lower() == "https:" else True,
        ) as response:
            self.last_status = response.status
            body = bytearray()
            truncated = False
            try:
                while chunk := await response.content.read(CHUNK_BYTES):
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        del body[self.max_bytes :]
                        truncated = True
                        break  # leaving unread: the connection is closed, not reused
            except aiohttp.ClientPayloadError:  # the answer was cut off: no retry, it did answer
                raise errors.unreachable(self._target(), "reset") from None
            return ProbeResponse(response.status, bytes(body), truncated, shown_path)
