"""The provider list page (`GET /` as an admin) at 10, 100 and 1,000 providers.

    .venv/bin/python bench/bench_list_page.py [--sizes 10 100 1000] [--rounds 15] [--profile]

Runs against a temporary SQLite database (migrated from scratch) with a generated key ring.
The fleet is what an operator has: mixed kinds, tiers and statuses (some degraded, unreachable
or disabled), required secrets present for most of the providers that need one, and a few
checks in the last five minutes for every provider. The page is requested through Django's test
client, so the time is the whole server side: middleware, session, permissions, the read model's
queries, the routing chain and the template. Printed per size: the best, the median and the
slowest of the timed rounds (on a shared machine the best is the page's own cost), the best
CPU time of this process for one request (what the page costs whatever else runs), the number of queries, the page's size, and the floor it is compared with: the
read model alone (`current_chain()`: the queries and the chain, no template).
Target: 1,000 providers under 300 ms in the best round (this shared machine's speed swings by itself,
which the script measures and prints), the query count the same at every size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django_setup import bench_admin, setup_django  # bench/django_setup.py, beside this script
from machine import machine_noise  # bench/machine.py: the machine's own swing

TARGET_MS = 300.0


def grow_fleet(start: int, stop: int, actor) -> None:
    """Providers start..stop-1, with secrets and a few recent checks each."""
    from django.utils import timezone

    from health.models import HealthCheck
    from providers.models import Kind, Provider
    from secrets_vault.services import set_secret

    kinds = [Kind.OPENAI_COMPATIBLE, Kind.OPENAI_COMPATIBLE, Kind.OLLAMA, Kind.OPENAI_COMPATIBLE]
    statuses = ["active"] * 6 + ["standby"] * 2 + ["degraded", "unreachable"]
    rows = []
    for i in range(start, stop):
        kind = kinds[i % len(kinds)]
        status = "disabled" if i % 25 == 24 else statuses[i % len(statuses)]
        rows.append(Provider(
            id=f"bench-{i:04d}", name=f"bench-{i:04d}", display_name=f"Bench {i:04d}", kind=kind,
            endpoint=f"https://bench-{i:04d}.example.test/v1", default_model="bench-model",
            fallback_models=["bench-small"], priority=(i * 7) % 500, status=status,
            tier="standby" if status == "standby" else "active", enabled=status != "disabled",
            secret_policy="none" if kind == Kind.OLLAMA else "required",
        ))
    Provider.objects.bulk_create(rows)
    for p in rows:
        if p.secret_policy == "required" and p.priority % 10:  # one in ten required secrets missing
            set_secret(p, f"sk-bench-{p.id}-" + "x" * 32, actor=actor)
    now = timezone.now()
    HealthCheck.objects.bulk_create(
        HealthCheck(
            provider_id=p.id, checked_at=now - timedelta(seconds=30 * n + 1), ok=p.status != "unreachable",
            error_code=None if p.status != "unreachable" else "timeout",
            error_message="" if p.status != "unreachable" else "no answer in 5000 ms",
            latency_ms=120 + n, provider_status=p.status, model="bench-model",
        )
        for p in rows
        for n in range(5)
    )


def measure(client, rounds: int) -> tuple[list[float], int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get("/")  # warm-up: template loading, first connection
    assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    count = len(queries)  # now: the next request's new connection clears the log
    times, cpu = [], []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get("/")
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return times, cpu, count, len(response.content)


def floor_ms(rounds: int) -> float:
    from console.readmodel import current_chain

    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        current_chain()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one request at the largest size")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-list-page-"))
    setup_django(tmp)
    from django.test import Client

    admin = bench_admin()
    client = Client()
    client.force_login(admin)

    print(f"GET / as an admin, Django test client, SQLite at {tmp}; {args.rounds} timed rounds per size")
    counts, results, have = set(), {}, 0
    for size in sorted(args.sizes):
        grow_fleet(have, size, admin)
        have = size
        times, cpu, queries, page_bytes = measure(client, args.rounds)
        counts.add(queries)
        median = statistics.median(times)
        results[size] = min(times)
        print(f"{size:>5} providers: best {min(times):6.1f} ms, median {median:6.1f} ms, slowest {max(times):6.1f} ms, {queries} queries, "
              f"{page_bytes / 1024:.0f} KiB; CPU best {min(cpu):6.1f} ms; floor (read model alone) {floor_ms(args.rounds):6.1f} ms")

    largest = max(args.sizes)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(client.get, "/")
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(30)

    loop_best, loop_median = machine_noise()
    print(f"this machine: a fixed CPU loop's median is {loop_median / loop_best:.2f}x its best ({loop_best:.0f} / {loop_median:.0f} ms), "
          "so the best round is the page's own cost and the medians carry the machine's swings")
    ok = results[largest] < TARGET_MS if largest >= 1000 else True
    print(f"target: {largest} providers under {TARGET_MS:.0f} ms, best round ({'met' if ok else 'NOT met'}: {results[largest]:.0f} ms); "
          f"query count {'constant' if len(counts) == 1 else 'GROWS: ' + str(sorted(counts))}")
    return 0 if ok and len(counts) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
