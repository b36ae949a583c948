"""Concurrent writers against the real site: writers wait for each other, none gets a 5xx.

The site runs under daphne in a child process (tests/site_process.py) on the embedded default,
a SQLite file, and on PostgreSQL too when the suite runs with a PostgreSQL DATABASE_URL.
"""

from __future__ import annotations

import base64
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest

from tests.site_process import database_params, site_on

PROVIDERS = [f"p{i}" for i in range(8)]
PATCHES = 30
ROTATIONS = 12
RUN_ALLS = 8
WRITES = PATCHES + ROTATIONS + RUN_ALLS  # 50


def _closed_port() -> int:
    """A 127.0.0.1 port nothing listens on: every probe fails at once as `unreachable`, a write."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=database_params())
def site(request):
    with site_on(request.param, env={"THROTTLE_PROBES": "1000/min", "THROTTLE_SECRETS": "1000/min"}) as site:
        yield site


def test_fifty_concurrent_writes_get_no_server_error(site):
    api = site.api_session(site.operators_with_token({"alice": ("admin", None)}, token_for="alice"))
    endpoint = f"http://127.0.0.1:{_closed_port()}/v1"
    canary = "canary-" + secrets.token_hex(8)
    values = [f"{canary}-initial"] + [f"{canary}-rotated-{i}" for i in range(ROTATIONS)]
    for provider_id in PROVIDERS:
        created = api.post(
            site.url + "/api/providers",
            json={"id": provider_id, "name": provider_id, "kind": "openai_compatible", "endpoint": endpoint,
                  "default_model": "m", "timeout_ms": 1000, "retries": 0},
            timeout=10,
        )
        assert created.status_code == HTTPStatus.CREATED, created.text
        secret = api.post(site.url + f"/api/providers/{provider_id}/secret", json={"action": "set", "value": values[0]}, timeout=10)
        assert secret.status_code == HTTPStatus.OK, secret.text

    # Priorities far from the default (100), so every PATCH changes something and is audited.
    writes = (
        [("PATCH", f"/api/providers/{PROVIDERS[i % 8]}", {"priority": 1000 + i}) for i in range(PATCHES)]
        + [("POST", f"/api/providers/{PROVIDERS[i % 8]}/secret", {"action": "rotate", "value": values[1 + i]}) for i in range(ROTATIONS)]
        + [("POST", "/api/providers/test-all", {}) for _ in range(RUN_ALLS)]
    )
    assert len(writes) == WRITES
    start = threading.Barrier(WRITES)
    sessions = threading.local()

    def send(write):
        method, path, body = write
        if not hasattr(sessions, "api"):
            sessions.api = site.api_session(api.headers["Authorization"].removeprefix("Bearer "))
        start.wait(timeout=10)
        response = sessions.api.request(method, site.url + path, json=body, timeout=60)
        return method, path, response.status_code, response.text[:300]

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=WRITES) as pool:
        answers = list(pool.map(send, writes))
    elapsed = time.monotonic() - began

    failures = [answer for answer in answers if answer[2] >= 500]
    assert failures == [], f"{len(failures)} of {WRITES} writes failed: {failures[:3]}"
    assert [answer for answer in answers if answer[2] != HTTPStatus.OK] == []
    assert elapsed < 30, f"{WRITES} concurrent writes took {elapsed:.1f} s"

    # Every write landed: one provider.updated event per PATCH, one secret version per rotation.
    for index, provider_id in enumerate(PROVIDERS):
        updated = api.get(
            site.url + "/api/events", params={"provider_id": provider_id, "event": "provider.updated"}, timeout=10
        ).json()
        versions = api.get(site.url + f"/api/providers/{provider_id}/secret/versions", timeout=10).json()
        assert updated["count"] == len(range(index, PATCHES, 8))
        assert len(versions) == 1 + len(range(index, ROTATIONS, 8))

    # Nothing the server logged (daphne's output and the site's log) holds a secret value.
    log = site.log_text()
    assert "POST /api/providers/p0/secret" in log  # the log is the one that was written
    assert canary not in log
    assert not [value for value in values if base64.b64encode(value.encode()).decode()[:16] in log]


@pytest.mark.django_db(transaction=True)
def test_two_run_alls_over_providers_in_different_orders_do_not_deadlock(provider_factory, monkeypatch):
    """Each Run all moves statuses in one transaction. Taken in the callers' order (priority,
    which PATCHes change meanwhile), two runs would lock the same rows in opposite orders and
    PostgreSQL would abort one ("deadlock detected", a 500). Both runs pause after their first
    move so that, without a fixed lock order, each holds a row the other one needs next."""
    from django.db import connection
    from django.utils import timezone

    from health import runner
    from providers.models import Provider

    if connection.vendor != "postgresql":
        pytest.skip("row locks and deadlocks are PostgreSQL's; the test database of SQLite is an in-memory one "
                    "that locks whole tables (the site test above covers SQLite's file database)")
    ids = [provider_factory(id=f"p{i}", status="active").pk for i in range(4)]

    def loaded(order):  # each run reads its own rows, as two requests would
        rows = Provider.objects.in_bulk(order)
        return [rows[pk] for pk in order]
    pause = threading.Barrier(2, timeout=2)
    real_move = runner.move_status
    moved_once = threading.local()

    def move_then_pause(*args, **kwargs):
        result = real_move(*args, **kwargs)
        if not getattr(moved_once, "done", False):
            moved_once.done = True
            try:
                pause.wait()
            except threading.BrokenBarrierError:
                pass  # the other run is waiting for a row this one holds: the intended order
        return result

    monkeypatch.setattr(runner, "move_status", move_then_pause)

    def run_all(order):
        try:
            outcomes = [
                runner.ProbeOutcome(provider_id=p.pk, ok=False, error_code="unreachable", error_message="refused",
                                    latency_ms=None, http_status=None, model=p.default_model, deep=False,
                                    checked_at=timezone.now())
                for p in order
            ]
            runner.record_outcomes(order, outcomes)
            return None
        except Exception as exc:  # noqa: BLE001 (reported by the assertion)
            return f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        errors = list(pool.map(run_all, [loaded(ids), loaded(ids[::-1])]))

    assert errors == [None, None]
