"""Run all's probes as greenlets on the probe loop (health/probe_loop.py), through `run_checks`
against the real simulator: one thread for every probe, the guards holding there as they do
for a single Test, and a broken probe failing alone."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from health import errors, probe_loop, runner
from health.runner import run_checks

pytestmark = pytest.mark.django_db


def test_every_probe_of_a_run_runs_on_the_probe_loops_thread(sim_provider, simulator, monkeypatch):
    providers = [sim_provider("/slow/v1") for _ in range(60)]  # 400 ms each, all at once
    threads: set[int] = set()
    real_probe_for = runner.probe_for

    def probe_for(provider, client):
        threads.add(threading.get_ident())
        return real_probe_for(provider, client)

    monkeypatch.setattr(runner, "probe_for", probe_for)
    result = run_checks(providers)

    assert result.passed == 60
    # One thread for the whole run (threads, one a probe, were the cost of a large run), and
    # not the caller's: this thread only collects and records.
    assert len(threads) == 1
    assert threading.get_ident() not in threads
    assert len(simulator.recorded) == 60


@pytest.fixture
def socket_count(monkeypatch):
    probe_loop.loop()  # started before counting: its own wake-up socket is not a probe's
    created = []
    real = socket.socket

    class Counted(real):
        def __init__(self, *args, **kwargs):
            created.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(socket, "socket", Counted)
    return created


def test_denied_addresses_in_a_run_are_refused_before_any_socket(provider_factory, simulator, monkeypatch, socket_count):
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "metadata.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    by_name = provider_factory(endpoint="http://metadata.example.test/v1", secret_policy="none", retries=2)
    by_address = provider_factory(endpoint="http://169.254.169.254/latest", kind="other", secret_policy="none")
    mapped = provider_factory(endpoint="http://[::ffff:169.254.169.254]/v1", secret_policy="none")

    checks = run_checks([by_name, by_address, mapped]).checks

    assert [c.error_code for c in checks] == [errors.ErrorCode.BLOCKED_ENDPOINT] * 3
    assert all("169.254.0.0/16" in c.error_message for c in checks)
    assert socket_count == []
    assert simulator.connections == 0


def test_a_hanging_endpoint_times_out_in_a_run_while_the_others_pass(sim_provider):
    hanging = sim_provider("/fail/hang/v1", timeout_ms=300, retries=2)
    fine = sim_provider("/open/v1")

    checks = run_checks([hanging, fine]).checks

    assert checks[0].error_code == errors.ErrorCode.TIMEOUT
    assert 300 <= checks[0].latency_ms
    assert checks[1].ok


def test_a_probe_that_breaks_fails_alone(sim_provider, monkeypatch):
    broken, fine = sim_provider("/open/v1"), sim_provider("/open/v1")
    real_probe_for = runner.probe_for

    def probe_for(provider, client):
        if provider.pk == broken.pk:
            raise RuntimeError("a bug in a probe")
        return real_probe_for(provider, client)

    monkeypatch.setattr(runner, "probe_for", probe_for)
    checks = run_checks([broken, fine]).checks

    assert checks[0].error_code == errors.ErrorCode.BAD_ENDPOINT
    assert checks[1].ok


def test_waiting_on_the_loops_own_thread_outside_a_probe_is_refused():
    async def nothing():
        return 1

    def on_the_loop():
        try:
            probe_loop.wait(nothing())
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    async def call():
        return on_the_loop()

    message = asyncio.run_coroutine_threadsafe(call(), probe_loop.loop()).result(timeout=5)
    assert "would block the loop" in message
