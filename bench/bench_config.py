"""Configuration as code at 10, 100 and 1,000 providers: `GET /api/config` and a dry run of
`POST /api/config` with the exported file (every provider compared, one changed).

    .venv/bin/python bench/bench_config.py [--sizes 10 100 1000] [--rounds 7]

Runs against a temporary SQLite database (migrated from scratch) with a generated key ring,
through Django's test client as an admin, so the time is the whole server side. The fleet is
bench_list_page.py's (mixed kinds and statuses, secrets, recent checks).

Printed per size: best, median and slowest of the timed rounds and the query count of the
export; the same for the dry run, and its cost per provider. The baseline the dry run is
compared with is what a script without this endpoint does: one `PATCH /api/providers/{id}` per
provider (measured on a sample of 20 and multiplied by the fleet's size). Targets: the export's
query count the same at every size, wall(1,000) / wall(10) of the export ≤ 15 (the issue's
bound for lists), and the dry run of the whole fleet cheaper than the PATCHes it replaces.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench_list_page import grow_fleet, machine_noise
from django_setup import bench_admin, setup_django  # bench/django_setup.py, beside this script

RATIO_TARGET = 15.0
PATCH_SAMPLE = 20


def timed(call, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def line(label: str, times: list[float], extra: str = "") -> str:
    return (f"{label}: best {min(times):7.1f} ms, median {statistics.median(times):7.1f} ms, "
            f"slowest {max(times):7.1f} ms{extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-config-"))
    setup_django(tmp)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    admin = bench_admin()
    client = APIClient()
    client.force_authenticate(admin)

    def get():
        response = client.get("/api/config")
        assert response.status_code == 200, response.status_code
        return response

    print(f"/api/config as an admin, Django test client, SQLite at {tmp}; {args.rounds} timed rounds per size")
    export_best, counts, ok_baseline = {}, set(), True
    have = 0
    for size in sorted(args.sizes):
        grow_fleet(have, size, admin)
        have = size
        get()  # warm-up
        with CaptureQueriesContext(connection) as queries:
            config = get().json()
            queries_made = len(queries)  # read now: the next request's new connection clears the log
        counts.add(queries_made)
        times = timed(get, args.rounds)
        export_best[size] = min(times)
        print(line(f"{size:>5} providers  GET     ", times, f", {queries_made} queries"))

        config["providers"][0]["priority"] += 1
        body = {"providers": config["providers"]}

        def dry_run(body=body):
            response = client.post("/api/config?dry_run=1", body, format="json")
            assert response.status_code == 200, response.content[:300]

        times = timed(dry_run, args.rounds)
        per = min(times) / size
        sample = config["providers"][:PATCH_SAMPLE]

        def patches(sample=sample):
            for row in sample:
                response = client.patch(f"/api/providers/{row['id']}", {"retries": row["retries"]}, format="json")
                assert response.status_code == 200, response.status_code

        patch_best = min(timed(patches, 3)) / len(sample) * size
        ok_baseline &= min(times) < patch_best
        print(line(f"{size:>5} providers  dry run ", times,
                   f", {per:.2f} ms a provider; baseline {size} PATCHes ≈ {patch_best:7.0f} ms"))

    loop_best, loop_median = machine_noise()
    print(f"this machine: a fixed CPU loop's median is {loop_median / loop_best:.2f}x its best "
          f"({loop_best:.0f} / {loop_median:.0f} ms); the best rounds are the code's own cost")
    smallest, largest = min(args.sizes), max(args.sizes)
    ratio = export_best[largest] / export_best[smallest]
    ok_ratio = ratio <= RATIO_TARGET
    print(f"target: GET wall({largest}) / wall({smallest}) ≤ {RATIO_TARGET:.0f} ({'met' if ok_ratio else 'NOT met'}: "
          f"{ratio:.1f}); query count {'constant' if len(counts) == 1 else 'GROWS: ' + str(sorted(counts))}; "
          f"dry run cheaper than the PATCHes it replaces: {'yes' if ok_baseline else 'NO'}")
    return 0 if ok_ratio and len(counts) == 1 and ok_baseline else 1


if __name__ == "__main__":
    raise SystemExit(main())
