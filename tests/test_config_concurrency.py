"""Concurrent `POST /api/config` against the real site (daphne in a child process): the whole
configuration's rows are locked, so of several files applied at once against the same version,
one applies and every other is refused with 412, nothing of it applied. On a SQLite file, and on
PostgreSQL too when the suite runs with a PostgreSQL DATABASE_URL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest

from tests.site_process import database_params, site_on

WRITERS = 6


@pytest.fixture(params=database_params())
def site(request):
    with site_on(request.param) as site:
        yield site


def test_of_concurrent_applies_at_one_version_one_wins(site):
    api = site.api_session(site.operators_with_token({"alice": ("admin", None)}, token_for="alice"))
    seed = [{"id": f"p{i}", "name": f"p{i}", "kind": "ollama", "endpoint": f"http://127.0.0.1:{9000 + i}",
             "default_model": "m", "priority": 10 * (i + 1)} for i in range(3)]
    assert api.post(site.url + "/api/config", json={"providers": seed}, timeout=30).status_code == HTTPStatus.OK
    config = api.get(site.url + "/api/config", timeout=10).json()

    start = threading.Barrier(WRITERS)
    sessions = threading.local()

    def apply(writer: int):
        if not hasattr(sessions, "api"):
            sessions.api = site.api_session(api.headers["Authorization"].removeprefix("Bearer "))
        providers = [dict(p, priority=1000 + writer) if p["id"] == "p1" else p for p in config["providers"]]
        start.wait(timeout=10)
        response = sessions.api.post(site.url + "/api/config", json={"providers": providers}, timeout=60,
                                     headers={"If-Match": f'"{config["version"]}"'})
        return writer, response.status_code

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        answers = list(pool.map(apply, range(WRITERS)))

    winners = [writer for writer, code in answers if code == HTTPStatus.OK]
    assert len(winners) == 1, answers
    assert sorted(code for _, code in answers) == [HTTPStatus.OK] + [HTTPStatus.PRECONDITION_FAILED] * (WRITERS - 1)
    now = {p["id"]: p for p in api.get(site.url + "/api/config", timeout=10).json()["providers"]}
    assert now["p1"]["priority"] == 1000 + winners[0]
    updated = api.get(site.url + "/api/events", params={"provider_id": "p1", "event": "provider.updated"}, timeout=10)
    assert updated.json()["count"] == 1
