"""HTTPS probes by host name against a real TLS server on localhost, with a CA made here.

The leaf certificate names `localhost` only (not 127.0.0.1), so a probe that passes proves the
host name, not the resolved address, was used for SNI and certificate verification.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from drf_spectacular.generators import SchemaGenerator

from health import errors
from health.http import ProbeClient
from health.models import HealthCheck
from health.runner import probe_one
from health.tests.servers import LocalServer, ModelsHandler
from providers.models import Kind, Status

pytestmark = pytest.mark.django_db

CANARY = "sk-canary-tls-4f1d9a"


@dataclass(frozen=True)
class Leaf:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ThrowAwayCA:
    cert_file: Path
    issue: Callable[..., Leaf]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> ThrowAwayCA:
    """A CA that exists only for these tests, and a way to issue leaf certificates from it."""
    directory = tmp_path_factory.mktemp("ca")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Probe Test CA"))
        .issuer_name(_name("Probe Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
        ), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = directory / "ca.pem"
    cert_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    def issue(dns_name: str, *, expired: bool = False) -> Leaf:
        key = ec.generate_private_key(ec.SECP256R1())
        start = now - datetime.timedelta(days=10 if expired else 1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(dns_name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(now - datetime.timedelta(days=2) if expired else now + datetime.timedelta(days=1))
            # The DNS name only: no IP address, so 127.0.0.1 does not match it.
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        stem = f"{dns_name}{'-expired' if expired else ''}"
        leaf = Leaf(directory / f"{stem}.pem", directory / f"{stem}.key")
        leaf.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        leaf.key.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ))
        return leaf

    return ThrowAwayCA(cert_file, issue)


def _server_context(leaf: Leaf) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf.cert, leaf.key)
    return context


@pytest.fixture
def https_server(ca) -> Callable[..., LocalServer]:
    """`https_server("localhost")`: a running HTTPS server whose certificate names that host."""
    servers: list[LocalServer] = []

    def start(dns_name: str = "localhost", *, expired: bool = False) -> LocalServer:
        server = LocalServer(ModelsHandler, tls=_server_context(ca.issue(dns_name, expired=expired)))
        servers.append(server.__enter__())
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def trusted(settings, ca) -> Iterator[None]:
    settings.PROBE_CA_BUNDLE = str(ca.cert_file)
    yield


def test_https_by_name_passes_with_the_ca_bundle(trusted, https_server):
    server = https_server("localhost")
    client = ProbeClient(endpoint=f"https://localhost:{server.port}/v1", timeout_ms=3000, credential=CANARY)

    response = client.get("/models")

    assert response.status_code == 200
    # SNI carried the host name, and so did the Host header.
    assert server.server_names == ["localhost"]
    assert [(s.path, s.host) for s in server.seen] == [("/v1/models", f"localhost:{server.port}")]
    assert server.seen[0].authorization == f"Bearer {CANARY}"


def test_the_real_probe_of_an_https_provider_passes_with_the_ca_bundle(trusted, https_server, provider_factory):
    server = https_server("localhost")
    provider = provider_factory(
        kind=Kind.OPENAI_COMPATIBLE, endpoint=f"https://localhost:{server.port}/v1",
        default_model="gpt-4o-mini", fallback_models=[], secret_policy="none", timeout_ms=3000,
    )

    outcome = probe_one(provider, credential=None)

    assert outcome.ok, outcome.error_message
    assert outcome.http_status == 200
    assert server.server_names == ["localhost"]


def test_without_the_ca_bundle_the_probe_fails_with_tls_error_and_sends_nothing(https_server, provider_factory):
    server = https_server("localhost")
    provider = provider_factory(
        kind=Kind.OPENAI_COMPATIBLE, endpoint=f"https://localhost:{server.port}/v1",
        default_model="gpt-4o-mini", fallback_models=[], secret_policy="none", timeout_ms=3000, retries=2,
    )

    outcome = probe_one(provider, credential=CANARY)

    assert outcome.error_code == errors.ErrorCode.TLS_ERROR
    assert "not signed by a certificate authority this site trusts" in outcome.error_message
    assert "PROBE_CA_BUNDLE" in outcome.error_message
    assert CANARY not in outcome.error_message
    # The handshake failed, so no request (and no credential) reached the server; one handshake
    # only (the SNI callback runs before the client sees the certificate): not retried.
    assert server.seen == []
    assert server.server_names == ["localhost"]


def test_a_certificate_for_another_name_fails_with_tls_error(trusted, https_server):
    server = https_server("other.example.test")
    client = ProbeClient(endpoint=f"https://localhost:{server.port}/v1", timeout_ms=3000)

    with pytest.raises(errors.ProbeFailure) as failure:
        client.get("/models")

    assert failure.value.code == errors.ErrorCode.TLS_ERROR
    assert "not valid for the host name" in failure.value.message
    assert "Fix the endpoint's host name" in failure.value.message
    assert server.server_names == ["localhost"]
    assert server.seen == []


def test_the_address_is_not_the_name_the_certificate_is_for(trusted, https_server):
    server = https_server("localhost")
    client = ProbeClient(endpoint=f"https://127.0.0.1:{server.port}/v1", timeout_ms=3000)

    with pytest.raises(errors.ProbeFailure) as failure:
        client.get("/models")

    assert failure.value.code == errors.ErrorCode.TLS_ERROR
    assert "not valid for the host name" in failure.value.message


def test_an_expired_certificate_fails_with_tls_error(trusted, https_server):
    server = https_server("localhost", expired=True)
    client = ProbeClient(endpoint=f"https://localhost:{server.port}/v1", timeout_ms=3000)

    with pytest.raises(errors.ProbeFailure) as failure:
        client.get("/models")

    assert failure.value.code == errors.ErrorCode.TLS_ERROR
    assert "Renew the server's certificate" in failure.value.message


def test_a_plain_http_port_behind_an_https_endpoint_is_a_failed_handshake(trusted):
    with LocalServer(ModelsHandler) as plain:
        client = ProbeClient(endpoint=f"https://localhost:{plain.port}/v1", timeout_ms=3000)
        with pytest.raises(errors.ProbeFailure) as failure:
            client.get("/models")

    assert failure.value.code == errors.ErrorCode.TLS_ERROR
    assert "speaks HTTPS" in failure.value.message


def test_a_ca_bundle_that_cannot_be_read_is_a_tls_error_before_any_connection(settings, tmp_path, https_server):
    server = https_server("localhost")
    settings.PROBE_CA_BUNDLE = str(tmp_path / "missing.pem")
    client = ProbeClient(endpoint=f"https://localhost:{server.port}/v1", timeout_ms=3000)

    with pytest.raises(errors.ProbeFailure) as failure:
        client.get("/models")

    assert failure.value.code == errors.ErrorCode.TLS_ERROR
    assert "PROBE_CA_BUNDLE cannot be read" in failure.value.message
    assert server.server_names == []


def test_settings_refuse_a_probe_ca_bundle_that_is_not_a_file(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "DEBUG": "1",  # so nothing else a production start requires is what fails
        "PROBE_CA_BUNDLE": str(tmp_path / "missing.pem"),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env, capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )

    assert result.returncode != 0
    assert "PROBE_CA_BUNDLE" in result.stderr and "is not a file" in result.stderr


def test_the_leaf_certificate_names_localhost_only(ca):
    leaf = x509.load_pem_x509_certificate(ca.issue("localhost").cert.read_bytes())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") not in names.get_values_for_type(x509.IPAddress)


def test_the_test_endpoint_reports_and_records_tls_error(admin_client, https_server, provider_factory):
    server = https_server("localhost")
    provider = provider_factory(
        kind=Kind.OPENAI_COMPATIBLE, endpoint=f"https://localhost:{server.port}/v1",
        default_model="gpt-4o-mini", fallback_models=[], secret_policy="none", timeout_ms=3000,
    )

    response = admin_client.post(f"/api/providers/{provider.pk}/test", {}, format="json")

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert (body["ok"], body["error_code"]) == (False, "tls_error")
    assert "PROBE_CA_BUNDLE" in body["error_message"]
    # A failed handshake is a misconfiguration, not an absent server: degraded, not unreachable.
    assert body["provider_status"] == Status.DEGRADED
    check = HealthCheck.objects.for_provider(provider.pk).get()
    check.full_clean()  # the stored code is one of the field's choices
    assert check.error_code == "tls_error"
    history = admin_client.get(f"/api/providers/{provider.pk}/history").json()
    assert history["results"][0]["error_code"] == "tls_error"


def test_the_openapi_schema_lists_tls_error():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "tls_error" in schema["components"]["schemas"]["ErrorCodeEnum"]["enum"]
