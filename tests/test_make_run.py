"""`make run`'s recipe, dry (`make -n`): the demo seeds its alert channel after the providers,
and serves the site with the simulator (the alerts' inbox) and a checker beside it, both
stopped with the site (docs/alerts.md, "The demo"). Nothing is run.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.site_process import BASE_DIR

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed on this machine")


def dry_run(*args: str) -> str:
    result = subprocess.run(["make", "-n", *args], cwd=BASE_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_seed_creates_the_alert_channel_after_the_demo_providers():
    lines = dry_run("seed", "SIMULATOR_PORT=8911").splitlines()
    seed_demo = next(i for i, line in enumerate(lines) if "manage.py seed_demo " in line)
    seed_alerts = next(i for i, line in enumerate(lines) if "manage.py seed_demo_alerts" in line)
    assert seed_demo < seed_alerts
    assert "--simulator-url http://127.0.0.1:8911" in lines[seed_alerts]
    # The secret travels in the environment, not on a command line `ps` shows.
    assert "--webhook-secret" not in lines[seed_alerts]


def test_run_starts_the_simulator_and_a_checker_and_stops_both_with_the_site():
    recipe = dry_run("run", "SIMULATOR_PORT=8911", "CHECK_EVERY=7")
    assert "manage.py simulate_providers --port 8911 & sim=$!" in recipe
    checker = re.search(r"manage\.py run_checks --watch 7\b.* & chk=\$!", recipe)
    assert checker, recipe
    # The checker starts once the simulator answers, and the trap stops both.
    assert recipe.index("socket.create_connection(('127.0.0.1', 8911)") < checker.start()
    assert "trap 'kill $sim $chk 2>/dev/null' EXIT INT TERM" in recipe
    assert recipe.index("trap ") < recipe.index("manage.py runserver")


def test_the_demo_secret_reaches_the_simulator_and_the_seed_through_the_environment():
    makefile = (BASE_DIR / "Makefile").read_text()
    assert re.search(r"^seed run: export SIMULATOR_WEBHOOK_SECRET \?= \S+$", makefile, re.MULTILINE)
