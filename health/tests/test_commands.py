"""run_checks (exit codes, selection, output, lock, purge), purge_history and the simulator."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command
from django.utils import timezone

from health import watch
from health.locking import RUN_CHECKS_LOCK, LockHeld, scheduler_lock
from health.models import HealthCheck, SchedulerLock
from providers.models import Status

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str, stdout: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = stdout or io.StringIO(), io.StringIO()
    try:
        call_command("run_checks", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue(), err.getvalue()


def test_exit_code_is_0_when_every_check_passes(sim_provider):
    first, second = sim_provider("/open/v1"), sim_provider("/ollama", kind="ollama")

    code, out, _ = run()

    assert code == 0
    assert HealthCheck.objects.filter(ok=True).count() == 2
    assert "2 checked, 2 passed, 0 failed" in out
    assert first.pk in out and second.pk in out


def test_exit_code_is_1_when_any_check_fails(sim_provider):
    sim_provider("/open/v1")
    failing = sim_provider("/fail/429/v1")

    code, out, _ = run()

    assert code == 1
    assert "2 checked, 1 passed, 1 failed" in out
    assert f"{failing.pk}: The endpoint is rate limiting" in out


def test_only_enabled_providers_unless_asked(sim_provider):
    sim_provider("/open/v1")
    disabled = sim_provider("/open/v1", enabled=False, status=Status.DISABLED)
    sim_provider("/open/v1", archived_at=timezone.now())

    run()
    assert HealthCheck.objects.count() == 1

    run("--include-disabled")
    assert HealthCheck.objects.count() == 3
    assert HealthCheck.objects.filter(provider=disabled).count() == 1


def test_provider_option_picks_providers(sim_provider):
    first, second, third = (sim_provider("/open/v1") for _ in range(3))

    code, _, _ = run("--provider", first.pk, third.pk)

    assert code == 0
    assert set(HealthCheck.objects.values_list("provider_id", flat=True)) == {first.pk, third.pk}


def test_an_unknown_provider_is_an_error(sim_provider):
    sim_provider("/open/v1")
    with pytest.raises(CommandError, match="Unknown provider: nope"):
        call_command("run_checks", "--provider", "nope", stdout=io.StringIO())


def test_deep_option_sends_a_completion(sim_provider, simulator):
    sim_provider("/open/v1")
    run("--deep")
    assert HealthCheck.objects.get().deep is True
    assert simulator.recorded[-1].path == "/open/v1/chat/completions"


def test_plain_lines_when_not_a_terminal(sim_provider):
    provider = sim_provider("/open/v1")

    _, out, _ = run()

    assert f"1/1 {provider.pk} pass" in out
    assert "\r" not in out
    assert "PROVIDER" in out and "LATENCY" in out and "STATUS" in out


def test_a_progress_bar_on_a_terminal(sim_provider):
    sim_provider("/open/v1")
    sim_provider("/open/v1")

    _, out, _ = run(stdout=TTY())

    assert "\r[" in out and "] 2/2" in out
    assert "1/2 " not in out


def test_the_runs_checks_are_recorded_as_run_checks(sim_provider):
    sim_provider("/open/v1")
    run()
    assert HealthCheck.objects.get().actor_name == "run_checks"


@pytest.mark.django_db(transaction=True)  # the checker's heartbeat thread reads its leases on its own connection
def test_watch_runs_again_until_sigterm_then_exits_0_and_releases_its_leases(sim_provider, monkeypatch):
    sim_provider("/open/v1")
    pauses = []

    def fake_sleep(seconds):
        pauses.append(seconds)
        if HealthCheck.objects.count() == 2:  # two rounds done: stop, as systemd would
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(seconds)

    monkeypatch.setattr(watch, "sleep", fake_sleep)
    before = signal.getsignal(signal.SIGTERM)
    # Should the rounds never come, the watch still ends (and the assertions below fail).
    safety = threading.Timer(120, os.kill, (os.getpid(), signal.SIGTERM))
    safety.start()
    try:
        code, _, _ = run("--watch", "0.3")
    finally:
        safety.cancel()

    assert code == 0
    assert pauses and all(0 < p <= watch.SLEEP_STEP for p in pauses)
    assert HealthCheck.objects.count() == 2
    assert not SchedulerLock.objects.exists()  # the leadership and the run lock, both released
    assert signal.getsignal(signal.SIGTERM) is before  # the process's own handler is back


def test_a_held_lock_stops_a_second_scheduler(sim_provider, simulator):
    sim_provider("/open/v1")

    with scheduler_lock(timedelta(minutes=5)):
        code, _, err = run()

    assert code == 2
    assert "Another run_checks is running" in err
    assert simulator.recorded == []
    assert not HealthCheck.objects.exists()


def test_an_expired_lock_is_taken_over(sim_provider):
    sim_provider("/open/v1")
    now = timezone.now()
    SchedulerLock.objects.create(
        name=RUN_CHECKS_LOCK, holder="crashed-host:1:x", acquired_at=now - timedelta(hours=1),
        expires_at=now - timedelta(minutes=1),
    )

    code, _, _ = run()

    assert code == 0
    assert HealthCheck.objects.count() == 1
    assert not SchedulerLock.objects.exists()  # released after the run


def test_the_lock_is_exclusive_and_released():
    with scheduler_lock(timedelta(minutes=1)) as first:
        with pytest.raises(LockHeld, match=first.holder):
            with scheduler_lock(timedelta(minutes=1)):
                pass
        assert first.renew()
    with scheduler_lock(timedelta(minutes=1)):
        pass


def _old_and_new_checks(provider_factory, settings):
    settings.HEALTH_HISTORY_TTL_DAYS = 30
    provider = provider_factory(enabled=False, status=Status.DISABLED)
    now = timezone.now()
    HealthCheck.objects.bulk_create(
        HealthCheck(provider=provider, checked_at=now - timedelta(days=days), ok=True, provider_status="active")
        for days in (40, 31, 29, 1)
    )
    return provider


def test_run_checks_purges_old_history(provider_factory, settings):
    _old_and_new_checks(provider_factory, settings)

    _, out, _ = run()

    assert not HealthCheck.objects.filter(checked_at__lt=timezone.now() - timedelta(days=30)).exists()
    assert HealthCheck.objects.count() == 2
    assert "Purged 2 check(s)" in out


def test_purge_history_deletes_rows_older_than_the_ttl(provider_factory, settings):
    _old_and_new_checks(provider_factory, settings)
    out = io.StringIO()

    call_command("purge_history", stdout=out)

    assert "Deleted 2 check(s) older than 30 day(s)" in out.getvalue()
    assert sorted((timezone.now() - c.checked_at).days for c in HealthCheck.objects.all()) == [1, 29]


def test_purge_history_days_option(provider_factory, settings):
    _old_and_new_checks(provider_factory, settings)
    call_command("purge_history", "--days", "7", stdout=io.StringIO())
    assert HealthCheck.objects.count() == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_simulate_providers_serves_the_demo_routes(tmp_path):
    port = free_port()
    env = {**os.environ, "VAR_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "simulate_providers", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/other", timeout=0.5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        key = {"Authorization": "Bearer sk-demo-openai"}
        models = requests.get(base + "/openai/v1/models", headers=key, timeout=2).json()
        assert [m["id"] for m in models["data"]] == ["gpt-4o-mini", "gpt-4o"]
        assert requests.get(base + "/openai/v1/models", timeout=2).status_code == 401
        tags = requests.get(base + "/ollama/api/tags", timeout=2).json()
        assert [m["name"] for m in tags["models"]] == ["llama3.2:3b", "qwen2.5:7b"]
        assert requests.get(base + "/llamacpp/health", timeout=2).json() == {"status": "ok"}
        assert [m["id"] for m in requests.get(base + "/llamacpp/v1/models", timeout=2).json()["data"]] == ["local-model"]
        started = time.monotonic()
        assert requests.get(base + "/slow/v1/models", timeout=5).status_code == 200
        assert time.monotonic() - started >= 1.4
        assert requests.get(base + "/fail/429/v1/models", timeout=2).status_code == 429
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()
    assert f"Provider simulator on {base}" in output
    assert "sk-demo-openai" not in output


def test_simulate_providers_reads_routes_from_a_config_file(tmp_path):
    from health.simulator import Route

    config = tmp_path / "routes.json"
    config.write_text(json.dumps([{"prefix": "/x/v1", "kind": "openai_compatible", "models": ["m"], "failures": ["hang"], "failure_rate": 0.5}]))
    route = Route.from_dict(json.loads(config.read_text())[0])
    assert (route.prefix, route.failures, route.failure_rate) == ("/x/v1", ("hang",), 0.5)
    with pytest.raises(ValueError, match="unknown failure mode"):
        Route.from_dict({"prefix": "/y", "kind": "other", "failures": ["explode"]})
