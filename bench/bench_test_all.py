"""Run all checks at 200 and 1,000 providers whose endpoints each answer in 200 ms.

    .venv/bin/python bench/bench_test_all.py [--sizes 200 1000] [--latency-ms 200] [--rounds 5]
        [--modes console api] [--profile]

The figure is the wall time of the whole `run_checks()` (credentials, every probe, and every
database write: status moves, check rows, counts, `provider.tested` events) over the
endpoints' own latency, the physical limit of a run however concurrent. It is not compared with
the slowest probe of the same run, which the run's own contention inflates. Measured for both
ways the runner records: `console` (the console's Run all, each batch of finished probes
written while the others run) and `api` (the API's test-all and `manage.py run_checks`, one
transaction after the last probe).
Targets: 1.5x at 200 providers, 3x at 1,000. Figures before the event loop (threads and
`requests`): 2.4-2.9x at 200 and 8-10x at 1,000; LiteLLM's /health on the same fakes:
5.3-10.6x and 23-36x.

The endpoints are bench/fake_endpoints.py, an asyncio server in its own process (as real
providers would be: their work does not compete with the run for this interpreter), on this
same machine: on 2 cores it takes one while the runner takes the other. It listens on a port
per provider, so every provider has an origin of its own and no probe can reuse the connection
of another provider's probe, as in a real fleet. The database is a fresh
SQLite (bench/django_setup.py). Printed per size: every round, the best (this machine's speed
swings by itself, which is measured and printed at the end: the best round is the run's own
cost), the runner's CPU time, its peak RSS and the fake server's.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_list_page import machine_noise  # the house measure of the machine's own swing
from django_setup import setup_django  # bench/django_setup.py, beside this script

HERE = Path(__file__).resolve().parent
TARGETS = {200: 1.5, 1000: 3.0}
BEFORE = {200: "2.4-2.9x", 1000: "8-10x"}
LITELLM = {200: "5.3-10.6x", 1000: "23-36x"}


def start_endpoints(latency_ms: int, ports: int) -> tuple[subprocess.Popen, list[str]]:
    """The fake endpoints on `ports` ports: a base URL (an origin) per provider."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "fake_endpoints.py"), str(latency_ms), "bench-model", str(ports)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().split()


def peak_rss_kib(pid: int) -> int:
    """A process's peak resident set (VmHWM). Not getrusage in the child: Linux carries the
    parent's peak across fork and exec into ru_maxrss."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def cpu_ms(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def add_providers(start: int, stop: int, base_urls: list[str]) -> None:
    """Providers `start`..`stop`, each on its own origin (`base_urls[i]`)."""
    from providers.models import Kind, Provider

    Provider.objects.bulk_create(
        Provider(
            id=f"bench-{i:04d}", name=f"bench-{i:04d}", kind=Kind.OPENAI_COMPATIBLE, endpoint=f"{base_urls[i]}/v1",
            default_model="bench-model", fallback_models=[], secret_policy="none", priority=i,
            timeout_ms=10_000, retries=0,
        )
        for i in range(start, stop)
    )


# The two ways the runner records (health/runner.py): the console's Run all writes each batch
# of finished probes in its own transaction while the others still run; the API's test-all and
# `manage.py run_checks` write everything in one transaction after the last probe.
MODES = {
    "console": ("Run all in the console, recorded as probes finish", {"record_as_they_finish": True}),
    "api": ("test-all / manage.py run_checks, one transaction at the end", {}),
}


def measure(size: int, mode: str, rounds: int, baseline_ms: int, endpoints_pid: int) -> bool:
    """`rounds` runs over every provider in one recording mode; prints each and the summary."""
    from health.runner import providers_to_check, run_checks

    title, options = MODES[mode]
    walls, cpus = [], []
    for round_no in range(1, rounds + 1):
        providers = providers_to_check()  # statuses as the previous round left them
        fake_cpu = cpu_ms(endpoints_pid)
        started, started_cpu = time.perf_counter(), time.process_time()
        run_id = {"run_id": f"bench-{round_no}"} if options.get("record_as_they_finish") else {}  # as the console
        result = run_checks(providers, **options, **run_id)
        wall = (time.perf_counter() - started) * 1000
        cpu = (time.process_time() - started_cpu) * 1000
        fake_cpu = cpu_ms(endpoints_pid) - fake_cpu
        walls.append(wall)
        cpus.append(cpu)
        slowest = max(c.latency_ms or 0 for c in result.checks)
        print(f"  {size:>5} {mode:>7} round {round_no}: wall {wall:6.0f} ms = {wall / baseline_ms:5.2f}x, runner CPU {cpu:5.0f} ms, "
              f"fake endpoints' CPU {fake_cpu:4.0f} ms, slowest probe {slowest} ms, {result.passed} passed, {result.failed} failed")
        assert result.passed == size, "every fake endpoint answers: a failed probe is a bench error"
    best = min(walls)
    target = TARGETS.get(size)
    ok = target is None or best / baseline_ms <= target
    print(f"{size:>5} providers, {title}: best {best:.0f} ms = {best / baseline_ms:.2f}x the {baseline_ms} ms baseline "
          f"(median {statistics.median(walls) / baseline_ms:.2f}x, worst {max(walls) / baseline_ms:.2f}x); "
          f"target {'<= ' + str(target) + 'x ' + ('met' if ok else 'NOT met') if target else 'none'}; "
          f"before: {BEFORE.get(size, '-')}, LiteLLM /health: {LITELLM.get(size, '-')}; "
          f"runner CPU best {min(cpus):.0f} ms, median {statistics.median(cpus):.0f} ms; "
          f"peak RSS runner {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"fake endpoints {peak_rss_kib(endpoints_pid) / 1024:.0f} MiB")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES),
                        help="how the run records: console (as probes finish), api (at the end)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run at the largest size")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-test-all-"))
    setup_django(tmp)
    from django.conf import settings

    from health.runner import providers_to_check, run_checks

    endpoints, base_urls = start_endpoints(args.latency_ms, max(args.sizes))
    baseline_ms = args.latency_ms
    print(f"Run all checks: every endpoint answers in {baseline_ms} ms (bench/fake_endpoints.py, pid {endpoints.pid}, "
          f"a port per provider); "
          f"PROBE_MAX_CONCURRENCY={settings.PROBE_MAX_CONCURRENCY}; SQLite at {tmp}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    print(f"baseline: {baseline_ms} ms, the endpoints' own latency; figure = wall of run_checks / {baseline_ms} ms")
    met = True
    have = 0
    try:
        for size in sorted(args.sizes):
            add_providers(have, size, base_urls)
            have = size
            providers = providers_to_check()
            run_checks(providers[:20])  # warm-up: imports, the probe loop, first statements
            for mode in args.modes:
                met = measure(size, mode, args.rounds, baseline_ms, endpoints.pid) and met
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(run_checks, providers_to_check())
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(35)
    finally:
        assert endpoints.stdin is not None
        endpoints.stdin.close()
        endpoints.wait(timeout=10)

    loop_best, loop_median = machine_noise()
    print(f"this machine: a fixed CPU loop's median is {loop_median / loop_best:.2f}x its best ({loop_best:.0f} / {loop_median:.0f} ms), "
          f"load average {os.getloadavg()[0]:.1f} at the end; the best round is the run's own cost")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
