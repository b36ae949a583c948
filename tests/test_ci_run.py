"""`.ci/run`: under CI=true the PostgreSQL + Redis pass is required, elsewhere it may be skipped.

The script is run for real with `--check` (which says which passes would run and stops before
the suite) and once without it, under CI=true, where it must fail before the first pass. The
services it looks for are pointed, through CI_POSTGRES_PORT / CI_REDIS_PORT, at a port that
nothing listens on.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "run"


@pytest.fixture
def dead_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (bound, then closed: nothing listens)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_port():
    """A port on 127.0.0.1 that answers (a listening socket of the test's own)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def ci_run(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CI")}
    environment.update(env)
    return subprocess.run([str(SCRIPT), *args], env=environment, capture_output=True, text=True, timeout=60)


def test_under_ci_a_postgres_that_does_not_answer_fails_the_run(dead_port, live_port):
    result = ci_run("--check", CI="true", CI_POSTGRES_PORT=str(dead_port), CI_REDIS_PORT=str(live_port))

    assert result.returncode == 1
    assert f"PostgreSQL on 127.0.0.1:{dead_port}" in result.stderr
    assert "Redis" not in result.stderr.split("do not answer:")[1]
    assert "required" in result.stderr


def test_under_ci_a_redis_that_does_not_answer_fails_the_run(dead_port, live_port):
    result = ci_run("--check", CI="true", CI_POSTGRES_PORT=str(live_port), CI_REDIS_PORT=str(dead_port))

    assert result.returncode == 1
    assert f"Redis on 127.0.0.1:{dead_port}" in result.stderr


def test_under_ci_the_run_fails_before_the_first_pass(dead_port, live_port, tmp_path):
    # A `make` that only says it ran, first on PATH: were the check broken, no suite would start.
    fake_make = tmp_path / "make"
    fake_make.write_text("#!/bin/sh\necho \"make $*\"\n")
    fake_make.chmod(0o755)
    result = ci_run(
        CI="true", CI_POSTGRES_PORT=str(live_port), CI_REDIS_PORT=str(dead_port),
        PATH=f"{tmp_path}:{os.environ['PATH']}",
    )

    assert result.returncode == 1
    assert "make test" not in result.stdout  # failed fast: the suite never started
    assert f"Redis on 127.0.0.1:{dead_port}" in result.stderr


def test_without_ci_the_second_pass_is_skipped_not_failed(dead_port):
    result = ci_run("--check", CI_POSTGRES_PORT=str(dead_port), CI_REDIS_PORT=str(dead_port))

    assert result.returncode == 0
    assert "run 2/2 would be skipped" in result.stdout
    assert f"PostgreSQL on 127.0.0.1:{dead_port}, Redis on 127.0.0.1:{dead_port}" in result.stdout


@pytest.mark.parametrize("ci", ["true", ""])
def test_when_both_answer_both_passes_run(live_port, ci):
    result = ci_run("--check", CI=ci, CI_POSTGRES_PORT=str(live_port), CI_REDIS_PORT=str(live_port))

    assert result.returncode == 0, result.stderr
    assert "both runs" in result.stdout
