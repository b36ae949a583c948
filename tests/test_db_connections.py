"""Reused PostgreSQL connections under daphne (DATABASE_POOL, docs/performance.md, "Database
connections"): requests and websocket handshakes borrow from the worker's pool instead of
opening a connection each. PostgreSQL only: the backends are counted in `pg_stat_activity`.

Each ASGI request's sync code runs on a thread of its own and connections are per thread; with
Django's handler, a new thread per request, a persistent connection (CONN_MAX_AGE) was never
seen again. core/handler.py gives a finished request's thread to the next request, so it is now
(the control below), but one per thread; the pool is per process and bounded. A request gives its connection back when it ends, and Channels'
`database_sync_to_async` (the websocket's session and user lookups) does the same around each
call.
"""

from __future__ import annotations

import base64
import os
import socket
from contextlib import ExitStack, closing
from http import HTTPStatus

import psycopg
import pytest
import requests

from tests.site_process import configured_site

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="counts PostgreSQL backends: runs in the PostgreSQL configuration (DATABASE_URL=postgres://...)",
)

PASSWORD = "pw-alice-" + "x" * 8
# A small pool, so "reused" is unmistakable: 20 requests and 10 handshakes, 3 connections at most
# (the open websockets re-read their access every second, so the pool may grow past one).
POOL_MAX_SIZE = 3


def site_backends(site) -> list[int]:
    """The pids of the site's connections to its own database (this query's own excluded)."""
    with psycopg.connect(site.env["DATABASE_URL"], autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return sorted(row[0] for row in rows)


def signed_in_session(site) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.get(site.url + "/login/", timeout=10)
    response = session.post(
        site.url + "/login/",
        data={"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=10,
    )
    assert response.status_code == HTTPStatus.OK and "sessionid" in session.cookies, response.status_code
    return session


def open_websocket(site, session_id: str) -> socket.socket:
    """An events websocket, handshake done (101); the socket is left open."""
    sock = socket.create_connection(("127.0.0.1", site.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/events/ HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {site.url}\r\nCookie: sessionid={session_id}\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, answer
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer[:200]
    return sock


def test_requests_and_websocket_handshakes_reuse_one_connection():
    with configured_site(env={"DATABASE_POOL_MIN_SIZE": "1", "DATABASE_POOL_MAX_SIZE": str(POOL_MAX_SIZE)}) as site:
        api = site.api_session(site.operators_with_token({"alice": ("admin", PASSWORD)}, token_for="alice"))
        seen: set[int] = set()
        for _ in range(20):
            assert api.get(site.url + "/api/providers", timeout=10).status_code == HTTPStatus.OK
            seen.update(site_backends(site))
        assert 1 <= len(seen) <= POOL_MAX_SIZE, seen  # the pool's connections answered all twenty

        browser = signed_in_session(site)
        with ExitStack() as sockets:
            for _ in range(10):
                sockets.enter_context(closing(open_websocket(site, browser.cookies["sessionid"])))
                assert browser.get(site.url + "/", timeout=10).status_code == HTTPStatus.OK
                seen.update(site_backends(site))
        assert 1 <= len(seen) <= POOL_MAX_SIZE, seen


def test_without_the_pool_conn_max_age_keeps_a_connection_on_the_reused_request_thread():
    # The control: a persistent connection belongs to its thread. Django's ASGI handler started a
    # thread per request, so 10 requests one after another met 10 backends; core/handler.py
    # serves them on the thread the previous one finished on, and so on its connection.
    with configured_site(env={"DATABASE_POOL": "0", "CONN_MAX_AGE": "60"}) as site:
        api = site.api_session(site.operators_with_token({"alice": ("admin", None)}, token_for="alice"))
        seen: set[int] = set()
        for _ in range(10):
            assert api.get(site.url + "/api/providers", timeout=10).status_code == HTTPStatus.OK
            seen.update(site_backends(site))
        assert len(seen) == 1, seen
