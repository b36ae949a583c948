"""The outbound seam against a real server on 127.0.0.1: timeouts, redirects, size cap,
denied networks, retries and where the credential goes."""

from __future__ import annotations

import socket
import time

import pytest

from health import errors
from health.http import ProbeClient, denied_network_of, new_session
from health.runner import probe_one
from health.tests.servers import CookieHandler, LocalServer, ModelsHandler, SlowBodyHandler, SlowHeadersHandler
from providers.models import Kind

pytestmark = pytest.mark.django_db


class SocketSpy(socket.socket):
    """Counts every socket created while installed."""

    created = 0

    def __init__(self, *args, **kwargs):
        type(self).created += 1
        super().__init__(*args, **kwargs)


@pytest.fixture
def socket_spy(monkeypatch):
    SocketSpy.created = 0
    monkeypatch.setattr(socket, "socket", SocketSpy)
    return SocketSpy


def test_a_hanging_server_is_cut_off_at_timeout_ms(sim_provider, simulator):
    provider = sim_provider("/fail/hang/v1", timeout_ms=300, retries=3)

    started = time.monotonic()
    outcome = probe_one(provider, credential=None)
    elapsed = time.monotonic() - started

    assert outcome.error_code == errors.ErrorCode.TIMEOUT
    assert "300 ms" in outcome.error_message
    assert 0.3 <= elapsed < 0.8
    assert 300 <= outcome.latency_ms < 800
    # A timed-out request may have reached the server: it is not sent again.
    assert len(simulator.recorded) == 1


def test_a_slow_answer_within_the_timeout_passes(sim_provider):
    outcome = probe_one(sim_provider("/slow/v1", timeout_ms=2000), credential=None)
    assert outcome.ok
    assert outcome.latency_ms >= 400


def test_a_redirect_is_reported_not_followed(sim_provider, simulator):
    outcome = probe_one(sim_provider("/fail/redirect/v1", retries=2), credential="sk-secret")

    assert outcome.error_code == errors.ErrorCode.BAD_ENDPOINT
    assert outcome.http_status == 302
    assert "redirect" in outcome.error_message
    assert [r.path for r in simulator.recorded] == ["/fail/redirect/v1/models"]


def test_an_oversized_body_is_cut_off_at_the_cap(settings, simulator):
    settings.PROBE_MAX_RESPONSE_BYTES = 100_000
    client = ProbeClient(endpoint=simulator.url("/fail/oversized/v1"), timeout_ms=5000)

    response = client.get("/models")

    assert response.truncated
    assert len(response.body) == 100_000


def test_an_oversized_body_fails_the_check_as_bad_endpoint(settings, sim_provider):
    settings.PROBE_MAX_RESPONSE_BYTES = 100_000
    started = time.monotonic()
    outcome = probe_one(sim_provider("/fail/oversized/v1"), credential=None)

    assert outcome.error_code == errors.ErrorCode.BAD_ENDPOINT
    assert "larger than 100000 bytes" in outcome.error_message
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_denied_network_is_refused_before_any_socket(settings, simulator, sim_provider, socket_spy, host):
    settings.PROBE_DENIED_NETWORKS = ["169.254.0.0/16", "127.0.0.0/8", "::1/128"]
    provider = sim_provider("/open/v1", retries=2)
    provider.endpoint = provider.endpoint.replace("127.0.0.1", host)

    outcome = probe_one(provider, credential=None)

    assert outcome.error_code == errors.ErrorCode.BLOCKED_ENDPOINT
    assert "127.0.0.0/8" in outcome.error_message or "::1/128" in outcome.error_message
    assert outcome.latency_ms is None
    assert socket_spy.created == 0
    assert simulator.connections == 0


def test_link_local_metadata_addresses_are_denied_by_default(provider_factory, socket_spy):
    provider = provider_factory(endpoint="http://169.254.169.254/latest", kind=Kind.OTHER, secret_policy="none")

    outcome = probe_one(provider, credential=None)

    assert outcome.error_code == errors.ErrorCode.BLOCKED_ENDPOINT
    assert "169.254.0.0/16" in outcome.error_message
    assert socket_spy.created == 0


def test_loopback_and_private_addresses_are_allowed_by_default():
    assert denied_network_of("127.0.0.1") is None
    assert denied_network_of("10.1.2.3") is None
    assert denied_network_of("192.168.1.10") is None
    assert denied_network_of("169.254.169.254") == "169.254.0.0/16"
    assert denied_network_of("fe80::1") == "fe80::/10"
    # An IPv4 address written as IPv6 is still checked as IPv4.
    assert denied_network_of("::ffff:169.254.169.254") == "169.254.0.0/16"


def test_private_ranges_can_be_added_to_the_denied_networks(settings):
    settings.PROBE_DENIED_NETWORKS = ["169.254.0.0/16", "10.0.0.0/8"]
    assert denied_network_of("10.1.2.3") == "10.0.0.0/8"


def test_connection_failures_are_retried_up_to_retries(sim_provider, simulator):
    outcome = probe_one(sim_provider("/fail/drop/v1", retries=2), credential=None)

    assert outcome.error_code == errors.ErrorCode.UNREACHABLE
    assert "closed before an answer" in outcome.error_message
    assert len(simulator.recorded) == 3


def test_an_http_error_answer_is_not_retried(sim_provider, simulator):
    outcome = probe_one(sim_provider("/fail/500/v1", retries=2), credential=None)

    assert outcome.error_code == errors.ErrorCode.SERVER_ERROR
    assert len(simulator.recorded) == 1


def test_a_refused_connection_is_unreachable(provider_factory):
    with socket.socket() as probe_socket:  # a port nothing listens on
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    provider = provider_factory(endpoint=f"http://127.0.0.1:{port}/v1", secret_policy="none", retries=1)

    outcome = probe_one(provider, credential=None)

    assert outcome.error_code == errors.ErrorCode.UNREACHABLE
    assert "refused" in outcome.error_message


def test_a_name_that_does_not_resolve_is_unreachable(provider_factory, monkeypatch):
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        if host == "nowhere.example.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    provider = provider_factory(endpoint="https://nowhere.example.test/v1", secret_policy="none")

    outcome = probe_one(provider, credential=None)

    assert outcome.error_code == errors.ErrorCode.UNREACHABLE
    assert "does not resolve" in outcome.error_message


def test_proxy_settings_from_the_environment_are_ignored(sim_provider, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")

    assert probe_one(sim_provider("/open/v1"), credential=None).ok


def test_the_credential_goes_to_the_providers_own_endpoint_only(simulator):
    client = ProbeClient(endpoint=simulator.url("/open/v1"), timeout_ms=1000, credential="sk-mine")

    assert client._headers_for(simulator.url("/open/v1/models")) == {"Authorization": "Bearer sk-mine"}
    assert client._headers_for("http://other.example.test/v1/models") == {}
    assert client._headers_for(simulator.url("/x").replace("http://", "https://")) == {}


def test_no_cookie_is_kept_between_probes():
    session = new_session()
    try:
        with LocalServer(CookieHandler) as server:
            for _ in range(2):
                client = ProbeClient(endpoint=f"http://localhost:{server.port}/v1", timeout_ms=3000, session=session)
                assert client.get("/models").status_code == 200
    finally:
        session.close()

    assert server.cookies_seen == [None, None]  # the cookie set by the first answer is not sent back
    assert len({s.client_port for s in server.seen}) == 1  # over the same kept-alive connection


# -- host names, keep-alive and the deadline, against servers started here -------------------


def test_keep_alive_requests_by_name_keep_the_host_header():
    with LocalServer(ModelsHandler) as server:
        session = new_session()
        endpoint = f"http://localhost:{server.port}/v1"
        client = ProbeClient(endpoint=endpoint, timeout_ms=3000, session=session)
        for _ in range(3):
            assert client.get("/models").status_code == 200
        # A later probe in the same run reuses the pooled connection too.
        assert ProbeClient(endpoint=endpoint, timeout_ms=3000, session=session).get("/models").status_code == 200

    assert [s.host for s in server.seen] == [f"localhost:{server.port}"] * 4
    # One connection served all four requests.
    assert len({s.client_port for s in server.seen}) == 1


@pytest.mark.parametrize("handler", [SlowBodyHandler, SlowHeadersHandler], ids=["body", "headers"])
def test_a_server_that_dribbles_is_cut_off_at_timeout_ms(handler):
    with LocalServer(handler) as server:
        client = ProbeClient(endpoint=f"http://localhost:{server.port}/v1", timeout_ms=1000, retries=2)
        started = time.monotonic()
        with pytest.raises(errors.ProbeFailure) as failure:
            client.get("/models")
        elapsed = time.monotonic() - started

    assert failure.value.code == errors.ErrorCode.TIMEOUT
    assert 1.0 <= elapsed < 1.3
    assert len(server.seen) == 1  # a timeout is not retried


def test_the_real_probe_of_a_dribbling_server_is_a_timeout_within_the_deadline(provider_factory):
    with LocalServer(SlowBodyHandler) as server:
        provider = provider_factory(
            endpoint=f"http://localhost:{server.port}/v1", secret_policy="none", timeout_ms=1000, retries=1
        )
        started = time.monotonic()
        outcome = probe_one(provider, credential=None)
        elapsed = time.monotonic() - started

    assert outcome.error_code == errors.ErrorCode.TIMEOUT
    assert elapsed < 1.5
    assert 1000 <= outcome.latency_ms < 1300


# -- denied networks: addresses from a fake resolver, so no packet leaves ---------------------


@pytest.fixture
def fake_dns(monkeypatch):
    """`fake_dns({"name": ["addr", ...]})`: those names resolve to those addresses; every other
    name resolves normally."""
    real = socket.getaddrinfo
    answers: dict[str, list[str]] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        infos = []
        for address in answers[host]:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def install(mapping: dict[str, list[str]]) -> None:
        answers.update(mapping)

    return install


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("169.254.169.254", "169.254.0.0/16"),
        ("100.100.100.200", "100.100.100.200/32"),
        ("fd00:ec2::254", "fd00:ec2::254/128"),
        ("fe80::1", "fe80::/10"),
        ("::ffff:169.254.169.254", "169.254.0.0/16"),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),  # NAT64 of 169.254.169.254
        ("64:ff9b::6464:64c8", "100.100.100.200/32"),  # NAT64 of 100.100.100.200
        ("2002:a9fe:a9fe::", "169.254.0.0/16"),  # 6to4 of 169.254.169.254
        ("2002:a9fe:a9fe:1::1", "169.254.0.0/16"),
    ],
)
def test_metadata_addresses_in_every_form_are_denied_by_default(provider_factory, fake_dns, socket_spy, address, network):
    fake_dns({"metadata.example.test": [address]})
    provider = provider_factory(endpoint="http://metadata.example.test/latest", kind=Kind.OTHER, secret_policy="none")

    outcome = probe_one(provider, credential="sk-never-sent")

    assert outcome.error_code == errors.ErrorCode.BLOCKED_ENDPOINT
    assert network in outcome.error_message
    assert outcome.latency_ms is None
    assert socket_spy.created == 0


def test_embedded_ipv4_addresses_outside_the_denied_networks_are_allowed():
    assert denied_network_of("64:ff9b::808:808") is None  # NAT64 of 8.8.8.8
    assert denied_network_of("2002:808:808::1") is None  # 6to4 of 8.8.8.8
    assert denied_network_of("::ffff:10.0.0.1") is None
    assert denied_network_of("2001:db8::a9fe:a9fe") is None  # not an embedding form
    assert denied_network_of("100.100.100.201") is None


def test_a_private_range_denies_its_nat64_and_6to4_forms_too(settings):
    settings.PROBE_DENIED_NETWORKS = ["10.0.0.0/8"]
    assert denied_network_of("64:ff9b::a00:1") == "10.0.0.0/8"
    assert denied_network_of("2002:a00:1::") == "10.0.0.0/8"


def test_one_denied_address_among_allowed_ones_refuses_the_name(simulator, provider_factory, fake_dns, socket_spy):
    fake_dns({"mixed.example.test": ["127.0.0.1", "64:ff9b::a9fe:a9fe"]})
    port = simulator.server_address[1]
    provider = provider_factory(endpoint=f"http://mixed.example.test:{port}/open/v1", secret_policy="none")

    outcome = probe_one(provider, credential=None)

    assert outcome.error_code == errors.ErrorCode.BLOCKED_ENDPOINT
    assert socket_spy.created == 0
    assert simulator.connections == 0


def test_the_socket_connects_to_the_address_that_was_checked(provider_factory, monkeypatch):
    """A name is resolved once per connection; a second answer (here a metadata address) can
    never be the one connected to."""
    with LocalServer(ModelsHandler) as server:
        answers = iter([["127.0.0.1"]] + [["169.254.169.254"]] * 5)
        lookups: list[str] = []
        real = socket.getaddrinfo

        def rebinding(host, port, *args, **kwargs):
            if host == "rebind.example.test":
                lookups.append(host)
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        provider = provider_factory(
            endpoint=f"http://rebind.example.test:{server.port}/v1", secret_policy="none", timeout_ms=3000
        )

        outcome = probe_one(provider, credential=None)

    assert outcome.ok, outcome.error_message
    assert lookups == ["rebind.example.test"]
    assert [s.host for s in server.seen] == [f"rebind.example.test:{server.port}"]


# -- where the credential goes ---------------------------------------------------------------


def test_the_credential_goes_only_to_the_origin_it_was_bound_to(simulator):
    port = simulator.server_address[1]
    bound = ProbeClient(
        endpoint=simulator.url("/open/v1"), timeout_ms=2000, credential="sk-bound",
        credential_origin=("http", "127.0.0.1", port),
    )
    elsewhere = ProbeClient(
        endpoint=simulator.url("/open/v1"), timeout_ms=2000, credential="sk-bound",
        credential_origin=("https", "api.example.test", 443),
    )

    bound.get("/models")
    elsewhere.get("/models")

    assert [r.authorization for r in simulator.recorded] == ["Bearer sk-bound", None]


def test_a_bound_origin_is_compared_without_case_or_default_port_differences(simulator):
    client = ProbeClient(
        endpoint="https://API.example.test/v1", timeout_ms=1000, credential="sk-bound",
        credential_origin=("HTTPS", "api.example.test", None),
    )

    assert client._headers_for("https://api.example.test:443/v1/models") == {"Authorization": "Bearer sk-bound"}
    assert client._headers_for("https://api.example.test:8443/v1/models") == {}
