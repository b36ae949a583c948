"""`/healthz` and `/readyz` of a real daphne site whose database does not answer: the process
is alive (200), not ready (503, `database` says so), and the body names no address."""

from __future__ import annotations

import socket
from contextlib import closing
from http import HTTPStatus

import requests

from tests.site_process import site_process


def closed_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_site_without_its_database_is_alive_but_not_ready():
    with site_process(start=False) as site:
        port = closed_port()
        # Migrated on its SQLite file, then served pointing at a PostgreSQL nothing listens for.
        site.env["DATABASE_URL"] = f"postgres://canary-user:canary-password@127.0.0.1:{port}/gone"
        site.start()
        session = requests.Session()
        session.trust_env = False

        alive = session.get(site.url + "/healthz", timeout=10)
        assert alive.status_code == HTTPStatus.OK and alive.text == "ok"

        ready = session.get(site.url + "/readyz", timeout=30)
        assert ready.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert ready.json() == {"database": "unavailable", "redis": "not configured", "vault": "ok"}
        for leak in ("127.0.0.1", str(port), "canary-user", "canary-password"):
            assert leak not in ready.text
        # The log names the failure's kind for the operator, never the password.
        assert "readyz: the database does not answer (OperationalError)" in site.log_text()
        assert "canary-password" not in site.log_text()
