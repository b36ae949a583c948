"""Run all checks on 200 providers whose endpoints each take 200 ms.

    .venv/bin/python bench/bench_test_all.py [--providers 200] [--latency-ms 200]

Uses a temporary SQLite database and the local provider simulator. Prints the wall time of
`run_checks` (probes and every database write), the slowest single probe, and their ratio.
Target: ratio < 2.5. Baseline: probing one after another would take N × one probe (200×).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.5


SIMULATOR = """
import sys
from health.simulator import Route, SimulatorServer
server = SimulatorServer([Route("/v1", "openai_compatible", ["bench-model"], latency_ms=int(sys.argv[1]))])
print(server.base_url, flush=True)
server.serve_forever()
"""


def start_simulator(latency_ms: int) -> tuple[subprocess.Popen, str]:
    """The endpoints run in their own process, as real providers would: their work does not
    compete with the probes for this interpreter's lock."""
    process = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR, str(latency_ms)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs; the best and the worst are shown")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-test-all-")
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=workdir,
        DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite3",
        DEBUG="true",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from health.runner import run_checks
    from providers.models import Kind, Provider

    call_command("migrate", verbosity=0, interactive=False)
    simulator, base_url = start_simulator(args.latency_ms)
    Provider.objects.bulk_create(
        Provider(
            id=f"bench-{i:04d}", name=f"bench-{i:04d}", kind=Kind.OPENAI_COMPATIBLE,
            endpoint=f"{base_url}/v1", default_model="bench-model", secret_policy="none",
            priority=i, timeout_ms=10_000, retries=0,
        )
        for i in range(args.providers)
    )
    providers = list(Provider.objects.order_by("priority"))

    print(f"{args.providers} providers, each endpoint answering in {args.latency_ms} ms; "
          f"pool of {min(settings.PROBE_MAX_CONCURRENCY, args.providers)} threads; SQLite at {workdir}")
    run_checks(providers[:5])  # warm-up: imports, first connections
    ratios = []
    for round_no in range(1, args.rounds + 1):
        for p in providers:
            p.refresh_from_db(fields=["status"])
        started = time.monotonic()
        result = run_checks(providers)
        wall_ms = (time.monotonic() - started) * 1000
        slowest = max(c.latency_ms or 0 for c in result.checks)
        ratio = wall_ms / slowest
        ratios.append(ratio)
        print(f"round {round_no}: wall {wall_ms:.0f} ms, slowest single probe {slowest} ms, "
              f"ratio {ratio:.2f}x  ({result.passed} passed, {result.failed} failed)")
    simulator.terminate()
    simulator.wait(timeout=10)
    sequential = args.providers * args.latency_ms
    print(f"best ratio {min(ratios):.2f}x, worst {max(ratios):.2f}x (target < {TARGET_RATIO}x; "
          f"sequential baseline ≈ {sequential} ms = {args.providers}x)")
    return 0 if max(ratios) < TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
