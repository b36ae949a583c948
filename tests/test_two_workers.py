"""Two daphne workers on one PostgreSQL database and one Redis behave as one site.

Worker A is a migrated site (tests/site_process.py); worker B joins its database, SECRET_KEY,
vault keys and Redis prefixes (`second_worker`), as a deployment's second process does. Proved
through their real entry points:

- an event committed through one worker reaches websockets open on both (channels-redis);
- the throttles are shared: requests alternated across A and B are refused at the global count;
- the credential cache is coherent: a secret set through A is what a Test through B sends, and
  after a rotation through A the next Test through B sends the new value (a local upstream
  records the Authorization header); the canary value is in neither worker's log;
- the run_checks lock holds across processes: a Run all started on A's console makes a second
  one on B answer 409, and `manage.py run_checks` from this process exits 2 meanwhile.

Runs in the PostgreSQL + Redis pass (DATABASE_URL and REDIS_URL set); skipped otherwise.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from http import HTTPStatus

import pytest

from health.simulator import Route, SimulatorServer
from tests.event_sockets import EventSockets, sign_in
from tests.site_process import BASE_DIR, postgres_scratch_database, second_worker, site_process

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(
    not (DATABASE_URL.startswith(("postgres://", "postgresql://")) and REDIS_URL),
    reason="two workers share PostgreSQL and Redis: set DATABASE_URL (postgres://) and REDIS_URL (the PostgreSQL + Redis pass)",
)

PROBES_PER_MINUTE = 4
ADMIN_PASSWORD = "two-workers-admin-password-1"
FIRST_KEY = "sk-two-workers-canary-first-5d1e"
ROTATED_KEY = "sk-two-workers-canary-rotated-a4c7"
MODELS = ["gpt-4o-mini"]
SLOW_SECONDS = 45  # the Run all of the lock test lasts this long: far longer than a command's start


class Workers:
    def __init__(self, a, b, upstream: SimulatorServer) -> None:
        self.a, self.b, self.upstream = a, b, upstream

    def api(self, worker, username: str):
        return worker.api_session(self.a.issue_token(username))


@pytest.fixture(scope="module")
def workers():
    routes = [Route("/v1", "openai_compatible", MODELS), Route("/slow/v1", "openai_compatible", MODELS, latency_ms=SLOW_SECONDS * 1000)]
    with (
        SimulatorServer(routes) as upstream,
        postgres_scratch_database(DATABASE_URL, migrated=True) as database_url,
        site_process(database_url=database_url, redis_url=REDIS_URL, env={"THROTTLE_PROBES": f"{PROBES_PER_MINUTE}/min"}) as a,
        second_worker(a) as b,
    ):
        a.create_operator("admin", role="admin", password=ADMIN_PASSWORD)
        workers = Workers(a, b, upstream)
        api = workers.api(a, "admin")
        for provider_id, path, policy in (("open", "/v1", "none"), ("keyed", "/v1", "required")):
            created = api.post(a.url + "/api/providers", json={
                "id": provider_id, "name": provider_id, "kind": "openai_compatible", "endpoint": upstream.url(path),
                "default_model": MODELS[0], "secret_policy": policy, "timeout_ms": 5000, "retries": 0,
            })
            assert created.status_code == HTTPStatus.CREATED, created.text
        yield workers


def test_the_two_workers_are_two_processes_on_one_database(workers):
    assert workers.a.process.pid != workers.b.process.pid and workers.a.port != workers.b.port
    assert workers.a.env["DATABASE_URL"] == workers.b.env["DATABASE_URL"]
    assert workers.a.env["CHANNEL_PREFIX"] == workers.b.env["CHANNEL_PREFIX"]
    # B was not migrated: A's token, issued on A, is good on B.
    assert workers.api(workers.b, "admin").get(workers.b.url + "/api/providers/open").status_code == HTTPStatus.OK


def test_an_event_committed_through_either_worker_reaches_websockets_on_both(workers):
    a, b = workers.a, workers.b
    session = sign_in(a, "admin", ADMIN_PASSWORD)  # one session: cookies are per host, not per port
    api_a, api_b = workers.api(a, "admin"), workers.api(b, "admin")

    async def scenario():
        async with EventSockets() as sockets:
            on_a = await sockets.open(a, session, count=2)
            on_b = await sockets.open(b, session, count=3)
            ids = []
            for api, worker, priority in ((api_a, a, 7), (api_b, b, 8)):
                answer = await asyncio.to_thread(api.patch, worker.url + "/api/providers/open", json={"priority": priority})
                assert answer.status_code == HTTPStatus.OK, answer.text
                events = await asyncio.to_thread(api.get, worker.url + "/api/events", params={"provider_id": "open"})
                ids.append(max(event["id"] for event in events.json()["results"]))
            everyone = on_a + on_b
            arrived = await sockets.wait_for(lambda: all(set(ids) <= set(s.ids) for s in everyone), timeout=60)
            return arrived, ids, everyone

    arrived, ids, everyone = asyncio.run(scenario())

    assert arrived, [(s.site.port, s.ids) for s in everyone]
    for socket in everyone:
        assert [i for i in socket.ids if i in ids] == ids  # each once, in commit order
        assert socket.role == "admin"


def test_the_probe_throttle_counts_requests_on_both_workers_together(workers):
    workers.a.create_operator("throttled", role="admin")
    apis = [workers.api(workers.a, "throttled"), workers.api(workers.b, "throttled")]
    urls = [workers.a.url, workers.b.url]

    answers = [apis[i % 2].post(urls[i % 2] + "/api/providers/open/test", json={}).status_code for i in range(PROBES_PER_MINUTE + 2)]

    # Each worker alone saw only half the limit: the 429s come from the one count in Redis.
    assert answers == [HTTPStatus.OK] * PROBES_PER_MINUTE + [HTTPStatus.TOO_MANY_REQUESTS] * 2


def test_a_secret_set_or_rotated_through_one_worker_is_what_a_test_through_the_other_sends(workers):
    a, b, upstream = workers.a, workers.b, workers.upstream
    workers.a.create_operator("vaulter", role="admin")
    api_a, api_b = workers.api(a, "vaulter"), workers.api(b, "vaulter")
    answers = []

    def test_on_b() -> str | None:
        answer = api_b.post(b.url + "/api/providers/keyed/test", json={})
        answers.append(answer)
        assert answer.status_code == HTTPStatus.OK and answer.json()["ok"] is True, answer.text
        return upstream.recorded[-1].authorization

    answers.append(api_a.post(a.url + "/api/providers/keyed/secret", json={"action": "set", "value": FIRST_KEY}))
    assert answers[-1].status_code == HTTPStatus.OK, answers[-1].text
    assert test_on_b() == f"Bearer {FIRST_KEY}"
    assert test_on_b() == f"Bearer {FIRST_KEY}"  # now in B's own memory cache

    answers.append(api_a.post(a.url + "/api/providers/keyed/secret", json={"action": "rotate", "value": ROTATED_KEY}))
    assert answers[-1].status_code == HTTPStatus.OK, answers[-1].text
    assert test_on_b() == f"Bearer {ROTATED_KEY}"  # the very next Test: B's cached value was dropped

    for canary in (FIRST_KEY, ROTATED_KEY):
        assert all(canary not in answer.text for answer in answers)
        assert canary not in a.log_text() and canary not in b.log_text()


def test_a_run_all_on_one_worker_holds_the_lock_for_the_other_and_for_run_checks(workers):
    a, b = workers.a, workers.b
    api = workers.api(a, "admin")
    created = api.post(a.url + "/api/providers", json={
        "id": "slow", "name": "slow", "kind": "openai_compatible", "endpoint": workers.upstream.url("/slow/v1"),
        "default_model": MODELS[0], "secret_policy": "none", "timeout_ms": 60000, "retries": 0,
    })
    assert created.status_code == HTTPStatus.CREATED, created.text
    console = sign_in(a, "admin", ADMIN_PASSWORD)
    headers = {"Accept": "application/json", "X-CSRFToken": console.cookies["csrftoken"]}

    started = console.post(a.url + "/checks/run-all/", headers={**headers, "Referer": a.url + "/"})
    refused = console.post(b.url + "/checks/run-all/", headers={**headers, "Referer": b.url + "/"})
    command = subprocess.run(
        [sys.executable, "manage.py", "run_checks"], cwd=BASE_DIR, env=a.env, capture_output=True, text=True, timeout=120,
    )

    assert started.status_code == HTTPStatus.ACCEPTED, started.text
    assert refused.status_code == HTTPStatus.CONFLICT, refused.text
    assert refused.json()["run"]["run_id"] == started.json()["run_id"]
    assert "started by admin" in refused.json()["error"]
    assert command.returncode == 2, command.stdout + command.stderr
    assert "Another run_checks is running" in command.stderr
