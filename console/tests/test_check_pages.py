"""The Test and Run all checks buttons of the pages, through the real client.

Without JavaScript both are forms that redirect back with a message; `static/js/checks.js`
asks for JSON (`Accept: application/json`). Run all starts a background run behind the
database lease lock and answers at once; `GET /checks/runs/<id>/` tells its progress.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from http import HTTPStatus

import pytest

from audit.models import AuditEvent
from health import background, locking
from health.models import HealthCheck, SchedulerLock

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}




def test_admin_tests_one_provider_and_sees_the_result(client, admin_user, sim_provider):
    sim_provider("/open/v1", id="p1")
    client.force_login(admin_user)
    response = client.post("/providers/p1/test/", {"next": "/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    page = response.content.decode()
    assert "p1: pass in" in page
    assert HealthCheck.objects.filter(provider_id="p1", ok=True).count() == 1
    assert AuditEvent.objects.filter(event="provider.tested", provider_id="p1").count() == 1


def test_test_answers_json_when_asked(client, admin_user, sim_provider):
    sim_provider("/slow/v1", id="p1", name="Slow one")
    client.force_login(admin_user)
    response = client.post("/providers/p1/test/", **JSON)
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["provider_id"] == "p1" and body["name"] == "Slow one" and body["ok"] is True
    assert body["latency_ms"] >= 400  # the simulator's route answers after 400 ms
    assert body["message"] == f"Slow one: pass in {body['latency_ms']} ms"
    check = HealthCheck.objects.get(provider_id="p1")
    assert check.latency_ms == body["latency_ms"]


def test_a_failing_test_says_what_to_do(client, admin_user, sim_provider):
    sim_provider("/fail/401/v1", id="p1")
    client.force_login(admin_user)
    page = client.post("/providers/p1/test/", follow=True).content.decode()
    assert "p1: auth_failure" in page
    assert 'data-testid="history"' in page  # back on the provider page, with its history
    body = client.post("/providers/p1/test/", **JSON).json()
    assert body["ok"] is False and body["error_code"] == "auth_failure"
    assert body["error_message"] and body["error_message"] in body["message"]


def test_unknown_archived_and_viewer_answers_in_json(client, admin_user, viewer_user, sim_provider):
    from django.utils import timezone

    sim_provider("/open/v1", id="p1")
    sim_provider("/open/v1", id="gone", archived_at=timezone.now())
    client.force_login(admin_user)
    missing = client.post("/providers/nope/test/", **JSON)
    assert missing.status_code == HTTPStatus.NOT_FOUND and "nope" in missing.json()["error"]
    assert client.post("/providers/nope/test/").status_code == HTTPStatus.NOT_FOUND
    archived = client.post("/providers/gone/test/", **JSON)
    assert archived.status_code == HTTPStatus.CONFLICT
    assert "archived; restore it" in archived.json()["error"]
    client.force_login(viewer_user)
    refused = client.post("/providers/p1/test/", **JSON)
    assert refused.status_code == HTTPStatus.FORBIDDEN and "Viewers cannot change providers" in refused.json()["error"]
    refused = client.post("/checks/run-all/", **JSON)
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert not HealthCheck.objects.exists()
    assert not SchedulerLock.objects.exists()


def test_viewers_see_locked_buttons_and_cannot_post(client, viewer_user, sim_provider):
    sim_provider("/open/v1", id="p1")
    client.force_login(viewer_user)
    page = client.get("/").content.decode()
    locked = 'disabled title="Viewers cannot change providers"'
    assert re.search(rf'<button type="button" class="small" {locked} data-testid="test-p1">Test</button>', page)
    assert re.search(rf'<button type="button" {locked} data-testid="run-all-checks">Run all checks</button>', page)
    assert client.post("/providers/p1/test/").status_code == HTTPStatus.FORBIDDEN
    assert client.post("/checks/run-all/").status_code == HTTPStatus.FORBIDDEN
    assert not HealthCheck.objects.exists()


def test_admins_buttons_are_live_and_the_page_loads_the_script(client, admin_user, sim_provider):
    sim_provider("/open/v1", id="p1")
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert '<button type="submit" class="small" data-testid="test-p1">Test</button>' in page
    assert '<button type="submit" data-testid="run-all-checks">Run all checks</button>' in page
    assert 'data-check-test="p1"' in page and "data-run-all" in page
    assert '<script src="/static/js/checks.js" defer></script>' in page
    assert re.search(r'<section class="check-run" id="check-run"[^>]* hidden>', page)  # no run going


def test_buttons_need_login_and_an_open_redirect_is_refused(client, admin_user, sim_provider):
    sim_provider("/open/v1", id="p1")
    assert client.post("/providers/p1/test/")["Location"].startswith("/login/")
    assert client.post("/checks/run-all/")["Location"].startswith("/login/")
    client.force_login(admin_user)
    response = client.post("/providers/p1/test/", {"next": "https://evil.example/"})
    assert response["Location"] == "/providers/p1/"


def test_archived_provider_is_not_tested(client, admin_user, sim_provider):
    from django.utils import timezone

    sim_provider("/open/v1", id="p1", archived_at=timezone.now())
    client.force_login(admin_user)
    page = client.post("/providers/p1/test/", follow=True).content.decode()
    assert "archived; restore it" in page
    assert not HealthCheck.objects.exists()


# -- Run all checks in the background ---------------------------------------------------------------
# The run's thread writes through its own connection: these tests commit for real. The test
# database of the default configuration is SQLite in memory (shared cache), where a read and a
# write from two threads at the same moment fail with "table is locked" (a file database, as the
# site uses, waits instead): so these tests touch the database only while the run's thread is
# not writing — waiting on a hung probe, or ended. Progress while results arrive is tested in
# health/tests/test_runner_batches.py and, against the real site, tests/test_browser_checks.py.

def wait_for_every_run() -> None:
    assert background.wait_for_all(timeout=30), "a background run did not end"


@pytest.mark.django_db(transaction=True)
def test_run_all_without_js_starts_the_run_and_redirects_with_a_message(client, admin_user, sim_provider):
    sim_provider("/open/v1", id="good")
    sim_provider("/fail/500/v1", id="bad")
    sim_provider("/open/v1", id="off", enabled=False, status="disabled")
    client.force_login(admin_user)
    response = client.post("/checks/run-all/", {"next": "/?search=o"})
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == "/?search=o"
    wait_for_every_run()
    page = client.get(response["Location"]).content.decode()
    assert "Started checking 2 providers" in page
    assert set(HealthCheck.objects.values_list("provider_id", flat=True)) == {"good", "bad"}
    events = AuditEvent.objects.filter(event="provider.tested")
    assert len(events) == 2
    assert len({e.payload["run_id"] for e in events}) == 1  # one run, its id in every event
    assert not SchedulerLock.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_run_all_answers_at_once_and_a_second_one_is_refused_while_it_runs(client, admin_user, sim_provider):
    sim_provider("/fail/hang/v1", id="hung", name="Hung", timeout_ms=3000)
    client.force_login(admin_user)

    began = time.monotonic()
    response = client.post("/checks/run-all/", **JSON)
    answered = time.monotonic() - began
    print(f"Run all answered in {answered * 1000:.0f} ms with a provider hanging for 3 s")
    assert response.status_code == HTTPStatus.ACCEPTED
    assert answered < 1.0
    run = response.json()
    assert run["total"] == 1 and run["started_by"] == "alice"
    assert run["providers"] == [{"id": "hung", "name": "Hung"}]
    assert run["status_url"] == f"/checks/runs/{run['run_id']}/"
    assert run["message"].startswith("Started checking 1 provider;")

    second = client.post("/checks/run-all/", **JSON)
    assert second.status_code == HTTPStatus.CONFLICT
    assert second.json()["error"].startswith("Checks are already running (started by alice at ")
    assert second.json()["run"]["run_id"] == run["run_id"]
    page = client.post("/checks/run-all/", follow=True).content.decode()  # without JS: the message
    assert "Checks are already running (started by alice at " in page

    # The list page loaded meanwhile says a run is going, who started it and when.
    listing = client.get("/").content.decode()
    assert f'data-run-id="{run["run_id"]}" data-total="1"' in listing
    assert "Checks are running, started by alice at " in listing
    status = client.get(run["status_url"]).json()
    assert (status["running"], status["checked"], status["total"], status["started_by"]) == (True, 0, 1, "alice")
    assert time.monotonic() - began < 3.0, "too slow to have checked during the hung probe"

    wait_for_every_run()
    status = client.get(run["status_url"]).json()
    assert status["running"] is False and status["checked"] == 1 and status["failed"] == 1
    hung = status["results"][0]
    assert hung["provider_id"] == "hung" and hung["error_code"] == "timeout" and hung["error_message"]
    assert "<table" in status["summary_html"] and "timeout" in status["summary_html"]
    assert not SchedulerLock.objects.exists()
    again = client.post("/checks/run-all/", **JSON)  # free again
    assert again.status_code == HTTPStatus.ACCEPTED
    wait_for_every_run()


@pytest.mark.django_db(transaction=True)
def test_the_summary_lists_failures_first(client, admin_user, sim_provider):
    sim_provider("/open/v1", id="a-good", name="Alpha")
    sim_provider("/fail/503/v1", id="z-down", name="Zulu")
    sim_provider("/fail/401/v1", id="m-auth", name="Mike")
    client.force_login(admin_user)
    run = client.post("/checks/run-all/", **JSON).json()
    wait_for_every_run()
    status = client.get(run["status_url"]).json()
    assert [r["name"] for r in status["results"]] == ["Mike", "Zulu", "Alpha"]
    assert [r["ok"] for r in status["results"]] == [False, False, True]
    html = status["summary_html"]
    assert html.index("Mike") < html.index("Zulu") < html.index("Alpha")
    assert html.count("<tr") == 4  # the header and one row each


@pytest.mark.django_db(transaction=True)
def test_run_all_is_refused_while_the_scheduler_holds_the_lock(client, admin_user, sim_provider):
    sim_provider("/open/v1", id="p1")
    client.force_login(admin_user)
    with locking.scheduler_lock(timedelta(minutes=1)):
        refused = client.post("/checks/run-all/", **JSON)
        assert refused.status_code == HTTPStatus.CONFLICT
        assert "Checks are already running (started by manage.py run_checks (" in refused.json()["error"]
    assert not HealthCheck.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_probe_that_raises_is_recorded_and_the_lock_released(client, admin_user, sim_provider, monkeypatch):
    from health import runner

    sim_provider("/open/v1", id="ok1")
    sim_provider("/open/v1", id="boom")
    real = runner.probe_one

    def probe(provider, **kwargs):
        if provider.pk == "boom":
            raise RuntimeError("probe exploded")
        return real(provider, **kwargs)

    monkeypatch.setattr(runner, "probe_one", probe)
    client.force_login(admin_user)
    client.post("/checks/run-all/", **JSON)
    wait_for_every_run()
    rows = dict(HealthCheck.objects.values_list("provider_id", "ok"))
    assert rows == {"ok1": True, "boom": False}
    assert HealthCheck.objects.get(provider_id="boom").error_message == "The check crashed; see the server log."
    assert not SchedulerLock.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_exception_in_the_run_is_logged_and_releases_the_lock(client, admin_user, sim_provider, monkeypatch, caplog):
    from health import runner

    sim_provider("/open/v1", id="p1")

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runner, "record_outcomes", broken)
    client.force_login(admin_user)
    with caplog.at_level(logging.ERROR, logger="health.background"):
        run = client.post("/checks/run-all/", **JSON).json()
        wait_for_every_run()
    assert any(f"check run {run['run_id']} failed" in r.getMessage() and r.exc_info for r in caplog.records)
    assert not SchedulerLock.objects.exists()
    monkeypatch.undo()
    assert client.post("/checks/run-all/", **JSON).status_code == HTTPStatus.ACCEPTED
    wait_for_every_run()


def test_run_status_answers(client, admin_user, viewer_user, outsider_user):
    client.force_login(admin_user)
    assert client.get("/checks/runs/abc123/").status_code == HTTPStatus.NOT_FOUND
    bad = client.get("/checks/runs/a-b/")
    assert bad.status_code == HTTPStatus.BAD_REQUEST and "run_id" in bad.json()["error"]
    client.force_login(outsider_user)
    assert client.get("/checks/runs/abc123/").status_code == HTTPStatus.FORBIDDEN
    client.force_login(viewer_user)
    assert client.get("/checks/runs/abc123/").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db(transaction=True)
def test_no_secret_value_in_any_answer_event_or_log_line(client, admin_user, admin_client, sim_provider, caplog):
    """A wrong key (a canary) is sent to the provider and refused: the answers say auth_failure
    and never the value."""
    import secrets as pysecrets

    canary = "sk-canary-" + pysecrets.token_hex(8)
    provider = sim_provider("/openai/v1", id="keyed", secret_policy="required")
    stored = admin_client.post("/api/providers/keyed/secret", {"action": "set", "value": canary}, format="json")
    assert stored.status_code == HTTPStatus.OK
    client.force_login(admin_user)
    with caplog.at_level(logging.DEBUG):
        tested = client.post(f"/providers/{provider.pk}/test/", **JSON)
        assert tested.json()["error_code"] == "auth_failure"
        run = client.post("/checks/run-all/", **JSON).json()
        wait_for_every_run()
        status = client.get(run["status_url"])
        listing = client.get("/")
    # The form's Run all (no JavaScript): its redirect is followed once the run it started has
    # ended. The test database (in-memory SQLite, shared cache) answers a read that meets the
    # run's write "table is locked" at once instead of waiting as the site's SQLite file does.
    started = client.post("/checks/run-all/")
    wait_for_every_run()
    answers = [tested.content, status.content, listing.content, started.content, client.get(started["Location"]).content]
    assert status.json()["results"][0]["error_code"] == "auth_failure"
    assert not any(canary.encode() in body for body in answers)
    assert not any(canary in str(e.payload) or canary in e.summary for e in AuditEvent.objects.all())
    assert canary not in caplog.text
