"""Responses that name one provider (API detail, PATCH, create; the provider page) at 10 and
1,000 providers.

    .venv/bin/python bench/bench_single_provider.py [--sizes 10 1000] [--rounds 20]

Each of these answers with the provider's place in the routing chain. The chain is computed once
per change and kept under its version (console/chaincache.py), so a detail reads one cheap
version query and this provider's own vault and health rows, and a PATCH or a create derives the
new chain from the stored one. Runs on a temporary SQLite database with the list bench's fleet
(bench/bench_list_page.py: mixed kinds, statuses, secrets, recent checks), through Django's test
client as an admin, so the time is the whole server side. Printed per size and response: the
best and the median of the timed rounds and the query count; then wall(largest) / wall(smallest)
of the best rounds, against the target (detail and PATCH within 1.5x) and the baseline measured
before the chain was cached (issue 9: detail 4.6-6.1x slower at 1,000 than at 10, a create
25 ms at 10 and 72 ms at 1,000). The bench judges best rounds: this machine's speed swings by
itself, which it measures and prints.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench_list_page import grow_fleet, machine_noise  # bench/, beside this script
from django_setup import bench_admin, setup_django

TARGET_RATIO = 1.5  # detail and PATCH at the largest size within 1.5x of the smallest
BASELINE = "before the cache (issue 9): detail 4.6-6.1x at 1,000 vs 10; create 25 ms at 10, 72 ms at 1,000"
DETAIL_ID = "bench-0001"  # usable, required secret present, in every fleet size


def timed(request, rounds: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    request()  # warm-up
    with CaptureQueriesContext(connection) as queries:
        request()
        count = len(queries)  # here: the request's end closes the connection, which clears the log
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        request()
        times.append((time.perf_counter() - started) * 1000)
    return times, count


def measure(client, rounds: int) -> dict[str, tuple[list[float], int]]:
    edits = itertools.count()
    created = itertools.count()

    def detail():
        response = client.get(f"/api/providers/{DETAIL_ID}")
        assert response.status_code == 200, response.status_code

    def page():
        response = client.get(f"/providers/{DETAIL_ID}/")
        assert response.status_code == 200, response.status_code

    def patch():
        # A field the chain shows (a node's display name), so each PATCH is a new chain version.
        body = json.dumps({"display_name": f"Edited {next(edits)}"})
        response = client.patch(f"/api/providers/{DETAIL_ID}", body, content_type="application/json")
        assert response.status_code == 200, response.content

    def create():
        n = next(created)
        body = {
            "id": f"new-{n:04d}", "name": f"new-{n:04d}", "kind": "ollama", "endpoint": f"http://new-{n}.example.test:11434/v1",
            "default_model": "llama3", "priority": 900 + n % 50,
        }
        response = client.post("/api/providers", json.dumps(body), content_type="application/json")
        assert response.status_code == 201, response.content

    results = {name: timed(request, rounds) for name, request in
               (("detail", detail), ("page", page), ("patch", patch), ("create", create))}
    from providers.models import Provider

    Provider.objects.filter(id__startswith="new-").delete()  # the fleet back to its size
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-single-provider-"))
    setup_django(tmp)
    from django.test import Client

    admin = bench_admin()
    client = Client()
    client.force_login(admin)

    print(f"one provider's responses as an admin, Django test client, SQLite at {tmp}; {args.rounds} timed rounds each")
    best: dict[int, dict[str, float]] = {}
    queries: dict[str, set[int]] = {}
    have = 0
    for size in sorted(args.sizes):
        grow_fleet(have, size, admin)
        have = size
        results = measure(client, args.rounds)
        best[size] = {}
        for name, (times, count) in results.items():
            best[size][name] = min(times)
            queries.setdefault(name, set()).add(count)
            print(f"{size:>5} providers  {name:<7} best {min(times):6.1f} ms  median {statistics.median(times):6.1f} ms  {count} queries")

    small, large = min(args.sizes), max(args.sizes)
    loop_best, loop_median = machine_noise()
    print(f"this machine: a fixed CPU loop's median is {loop_median / loop_best:.2f}x its best, so best rounds are compared")
    ok = True
    for name in ("detail", "page", "patch", "create"):
        ratio = best[large][name] / best[small][name]
        judged = name in ("detail", "patch")
        verdict = ("met" if ratio <= TARGET_RATIO else "NOT met") if judged else "reported"
        ok &= ratio <= TARGET_RATIO or not judged
        constant = "constant" if len(queries[name]) == 1 else f"GROWS {sorted(queries[name])}"
        print(f"{name:<7} {large} / {small} providers: {best[large][name]:.1f} / {best[small][name]:.1f} ms = {ratio:.2f}x "
              f"(target <= {TARGET_RATIO}x: {verdict}); queries {constant}")
        ok &= len(queries[name]) == 1
    print(f"baseline {BASELINE}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
