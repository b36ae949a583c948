"""`GET /api/providers` and the console's list page at 10, 100 and 1,000 providers, each with a
day of check history (one check a minute: 1,440 rows a provider, 1.44 million at 1,000).

    .venv/bin/python bench/bench_fleet_size.py [--sizes 10 100 1000] [--rounds 10]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mydb .venv/bin/python bench/bench_fleet_size.py

On a temporary SQLite database, or with DATABASE_URL on PostgreSQL in a database of the bench's
own beside the one named (`<name>_bench_fleet`, created and dropped). The fleet is the list
bench's (bench/bench_list_page.py); the history is written by the database itself (one
`INSERT … SELECT` over a generated series per size), so a million rows take seconds. Requests go
through Django's test client as an admin: the whole server side (middleware, session,
permissions, queries, the chain, rendering). Printed per size and endpoint: best and median of
the timed rounds and the number of queries; then wall(largest) / wall(smallest) of the best
rounds against the targets (issue 9: at most 10x for the list and the page, at most 15x with a
day of history; the page was 10-22x before the chain was cached) and whether the query count
stayed the same.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_api_throughput import bench_database  # noqa: E402
from bench_list_page import grow_fleet, machine_noise  # noqa: E402
from django_setup import bench_admin  # noqa: E402

TARGET_RATIO = 15.0  # §6: with a day of history
TARGET_RATIO_LIST = 10.0  # §5: the list and the page
HISTORY_MINUTES = 1440
BASELINE = "list page 10-22x at 1,000 vs 10 providers (issue 9, before)"
ENDPOINTS = {"api list": "/api/providers", "api built": "/api/providers", "list page": "/"}
# "api list" is what a poller gets: after the first round, the answer kept for the unchanged
# fleet (console/listcache.py). "api built": the same request with that answer dropped first,
# so each round builds the page (its queries, the vault, health and the chain's lookups).
BUILT = {"api built"}


def setup(tmp: Path, database_url: str | None) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["VAR_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["VAULT_KEYS"] = "bench1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("STATIC_MANIFEST", "false")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def add_history(start: int, stop: int) -> int:
    """A check a minute for the last day (from two minutes ago: the fleet's own recent checks
    are younger) for providers bench-<start>..bench-<stop-1>; written by the database."""
    from django.db import connection

    from health.models import HealthCheck
    from providers.models import Provider

    checks = connection.ops.quote_name(HealthCheck._meta.db_table)
    providers = connection.ops.quote_name(Provider._meta.db_table)
    now = datetime.now(UTC).replace(microsecond=0)
    columns = "provider_id, checked_at, ok, error_code, error_message, latency_ms, http_status, model, deep, provider_status, actor_name"
    unreachable = "p.status = 'unreachable'"
    values = (
        f"p.id, {{moment}}, NOT ({unreachable}), CASE WHEN {unreachable} THEN 'timeout' END, '', "
        f"CASE WHEN {unreachable} THEN NULL ELSE 100 + (n.i %% 50) END, CASE WHEN {unreachable} THEN NULL ELSE 200 END, "
        f"'bench-model', {{false}}, p.status, 'scheduler'"
    )
    where = "p.id >= %s AND p.id < %s"
    bounds = [f"bench-{start:04d}", f"bench-{stop:04d}"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            moment = "%s::timestamptz - make_interval(mins => n.i)"
            cursor.execute(
                f"INSERT INTO {checks} ({columns}) SELECT {values.format(moment=moment, false='false')} "
                f"FROM {providers} p CROSS JOIN generate_series(2, %s) AS n(i) WHERE {where}",
                [now, HISTORY_MINUTES + 1, *bounds],
            )
        else:
            moment = "strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, '-' || n.i || ' minutes')"
            cursor.execute(
                f"WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
                f"INSERT INTO {checks} ({columns}) SELECT {values.format(moment=moment, false='0')} "
                f"FROM {providers} p CROSS JOIN n WHERE {where}",
                [HISTORY_MINUTES + 1, now.strftime("%Y-%m-%d %H:%M:%S"), *bounds],
            )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {checks}")
    return (stop - start) * HISTORY_MINUTES


def measure(client, path: str, rounds: int, built: bool = False) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from console import listcache

    def get():
        if built:
            listcache.forget()
        return client.get(path)

    assert get().status_code == 200  # warm-up
    with CaptureQueriesContext(connection) as queries:
        response = get()
        count = len(queries)  # here: the request's end closes the connection, which clears the log
    assert response.status_code == 200, response.status_code
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        get()
        times.append((time.perf_counter() - started) * 1000)
    return times, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    database_url, drop = bench_database(os.environ.get("DATABASE_URL"), "_bench_fleet")
    try:
        tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-size-"))
        setup(tmp, database_url)
        from django.db import connections
        from django.test import Client

        admin = bench_admin()
        client = Client()
        client.force_login(admin)
        where = "PostgreSQL" if database_url else "SQLite"
        print(f"GET /api/providers (a page of 50) and / (every card) as an admin, Django test client, {where}; "
              f"a day of history (a check a minute); {args.rounds} timed rounds")
        best: dict[str, dict[int, float]] = {name: {} for name in ENDPOINTS}
        counts: dict[str, set[int]] = {name: set() for name in ENDPOINTS}
        have = 0
        for size in sorted(args.sizes):
            grow_fleet(have, size, admin)
            started = time.perf_counter()
            rows = add_history(have, size)
            print(f"{size:>5} providers: {rows:,} history rows written in {time.perf_counter() - started:.1f} s")
            have = size
            for name, path in ENDPOINTS.items():
                times, count = measure(client, path, args.rounds, built=name in BUILT)
                best[name][size] = min(times)
                counts[name].add(count)
                print(f"{size:>5} providers  {name:<9} best {min(times):7.1f} ms  median {statistics.median(times):7.1f} ms  {count} queries")
        connections.close_all()
    finally:
        drop()

    small, large = min(args.sizes), max(args.sizes)
    loop_best, loop_median = machine_noise()
    print(f"this machine: a fixed CPU loop's median is {loop_median / loop_best:.2f}x its best, so best rounds are compared")
    ok = True
    for name in ENDPOINTS:
        ratio = best[name][large] / best[name][small]
        constant = len(counts[name]) == 1
        ok &= ratio <= TARGET_RATIO and constant
        print(f"{name:<9} wall({large}) / wall({small}) = {best[name][large]:.1f} / {best[name][small]:.1f} ms = {ratio:.1f}x "
              f"(target <= {TARGET_RATIO:.0f}x with history, <= {TARGET_RATIO_LIST:.0f}x: "
              f"{'met' if ratio <= TARGET_RATIO_LIST else 'NOT met' if ratio > TARGET_RATIO else 'met at 15x only'}); "
              f"queries {'constant' if constant else 'GROW ' + str(sorted(counts[name]))}")
    print(f"baseline {BASELINE}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
