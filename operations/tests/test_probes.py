"""`GET /healthz` and `GET /readyz` through the URL (API.md, "Operations"): each state the
readiness answer can take, with Redis and the vault made to fail for real."""

from __future__ import annotations

import socket
from contextlib import closing, contextmanager
from http import HTTPStatus

import pytest
from django.db import connection

from secrets_vault.crypto import reset_key_ring_cache


@contextmanager
def silent_port():
    """A port that accepts TCP connections (the kernel's backlog) and never answers a byte."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def closed_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once it is closed


@pytest.fixture
def vault_ring_reread():
    # The key ring is cached per configuration; a test that changes it reads it afresh.
    reset_key_ring_cache()
    yield
    reset_key_ring_cache()


def assert_no_store(response):
    assert "no-store" in response["Cache-Control"]


# -- /healthz --------------------------------------------------------------------------------
def test_healthz_is_ok_without_a_query_or_a_login(client):
    # No database in this test: pytest-django fails any query, or even a connection, it made.
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert_no_store(response)


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == HTTPStatus.METHOD_NOT_ALLOWED


# -- /readyz ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_readyz_is_ok_when_every_part_answers(client, settings, vault_ring_reread):
    response = client.get("/readyz")
    assert response.status_code == HTTPStatus.OK, response.content
    expected_redis = "ok" if settings.REDIS_URL else "not configured"
    assert response.json() == {"database": "ok", "redis": expected_redis, "vault": "ok"}
    assert_no_store(response)


@pytest.mark.django_db
def test_readyz_runs_one_query_for_the_database(client, settings, django_assert_num_queries, vault_ring_reread):
    settings.REDIS_URL = ""
    with django_assert_num_queries(1):
        assert client.get("/readyz").status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_readyz_is_503_with_a_reason_and_no_address_when_redis_does_not_answer(client, settings, vault_ring_reread):
    with silent_port() as port:
        settings.REDIS_URL = f"redis://:canary-password@127.0.0.1:{port}/0"
        response = client.get("/readyz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"database": "ok", "redis": "timeout", "vault": "ok"}
    body = response.content.decode()
    assert "127.0.0.1" not in body and str(port) not in body and "canary-password" not in body
    assert_no_store(response)


@pytest.mark.django_db
def test_readyz_is_503_when_nothing_listens_where_redis_should_be(client, settings, vault_ring_reread):
    port = closed_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    response = client.get("/readyz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["redis"] == "unavailable"
    assert str(port) not in response.content.decode()


@pytest.mark.django_db
def test_readyz_is_503_when_the_vault_has_no_key_ring(client, settings, tmp_path, vault_ring_reread):
    settings.DEBUG = False  # with DEBUG on the vault would create a development key file
    settings.VAULT_KEYS = ""
    settings.VAULT_KEY_FILE = tmp_path / "absent.keys"
    response = client.get("/readyz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["vault"] == "key ring not loaded"
    assert "VAULT_KEYS" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_fails(client, monkeypatch, vault_ring_reread):
    # In-process stand-in for an outage (tests/test_readyz_site.py stops a real one): the
    # connection's cursor fails as psycopg's and sqlite3's do, with an address in the message.
    from django.db import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "10.1.2.3", port 5432 failed: Connection refused')

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/readyz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["database"] == "unavailable"
    assert "10.1.2.3" not in response.content.decode()


# -- behind the TLS proxy --------------------------------------------------------------------
@pytest.mark.django_db
def test_probes_answer_over_plain_http_when_everything_else_is_redirected(settings, vault_ring_reread):
    from django.test import Client

    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # its middleware is built now, with the redirect on
    assert client.get("/login/").status_code == HTTPStatus.MOVED_PERMANENTLY
    assert client.get("/healthz").status_code == HTTPStatus.OK
    assert client.get("/readyz").status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_probes_need_no_sign_in_even_with_a_stale_session_cookie(client, vault_ring_reread):
    client.cookies["sessionid"] = "not-a-session"
    assert client.get("/healthz").status_code == HTTPStatus.OK
    assert client.get("/readyz").status_code == HTTPStatus.OK

