"""History size: `/metrics`, the console's list page and `GET /api/providers` with 1,000,000 check
rows against 10,000, on PostgreSQL (100 providers).

    .venv/bin/python bench/bench_history_size.py [--rounds 15] [--large 1000000] [--explain]

The database: DATABASE_URL when it names a PostgreSQL database, otherwise
postgres://postgres@127.0.0.1:5432/bench_history (created when missing). The bench migrates it
and fills it with its own providers (`hbench-*`); it refuses a database holding any other
provider, so it never touches real data. When PostgreSQL does not answer it says so and exits 0
(`make bench` goes on with the other benches).

The fleet: 100 providers, mixed kinds and statuses, secrets for those that need one. The small
history is the last 50 minutes, one check every 30 s per provider (10,000 rows); the large one
adds 990,000 older rows spread over the 30 days the history is kept (HEALTH_HISTORY_TTL_DAYS),
so every 5-minute and 1-minute window holds the same checks at both sizes and only the history
behind them grows, as it does in production. Rows are generated in SQL (generate_series), then
ANALYZEd, as autovacuum would. The cumulative counts (`health_checkcount`) are rebuilt from the
history after each load, as the migration does.

Requests go through Django's test client (the whole server side: middleware, authentication,
the read model's queries, rendering): `/metrics` with the scraper token, `/` and
`/api/providers` as an admin. Printed per size and endpoint: the best, the median, the query
count; then the ratio of the best rounds (1,000,000 / 10,000) against the target of 3, and
this machine's own swing. `--explain` prints PostgreSQL's plan of each of `/metrics`' queries at
the large size.
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
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from machine import machine_noise  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_history"
PROVIDERS = 100
SMALL = 10_000
TARGET_RATIO = 3.0
TOKEN = secrets.token_urlsafe(24)
ENDPOINTS = {"/metrics": "metrics", "/": "list page", "/api/providers": "provider API"}


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_URL


def ensure_database(url: str) -> str | None:
    """Create the database if missing; None when PostgreSQL answers, else why not."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    server = urlunparse(parsed._replace(path="/postgres"))
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]
    return None


def setup_django(url: str, tmp: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["VAR_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = url
    os.environ["VAULT_KEYS"] = "bench1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    os.environ["METRICS_TOKEN"] = TOKEN
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["STATIC_MANIFEST"] = "false"  # static files as they are: nothing collected here
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def reset_fleet() -> None:
    """Start from the bench's own, empty fleet; refuse a database with anyone else's providers."""
    from django.db import connection

    from providers.models import Provider

    foreign = Provider.objects.exclude(id__startswith="hbench-").count()
    if foreign:
        raise SystemExit(f"{connection.settings_dict['NAME']} holds {foreign} provider(s) the bench did not create; "
                         "point DATABASE_URL at a database of its own.")
    with connection.cursor() as cursor:
        # The bench's providers, their history, counts, secrets and events.
        cursor.execute("TRUNCATE health_healthcheck, health_checkcount RESTART IDENTITY")
    Provider.objects.all().delete()


def make_fleet(actor) -> None:
    from providers.models import Kind, Provider
    from secrets_vault.services import set_secret

    kinds = [Kind.OPENAI_COMPATIBLE, Kind.OPENAI_COMPATIBLE, Kind.OLLAMA, Kind.LLAMA_CPP]
    statuses = ["active"] * 6 + ["standby"] * 2 + ["degraded", "unreachable"]
    rows = []
    for i in range(PROVIDERS):
        kind = kinds[i % len(kinds)]
        status = "disabled" if i % 25 == 24 else statuses[i % len(statuses)]
        rows.append(Provider(
            id=f"hbench-{i:03d}", name=f"hbench-{i:03d}", display_name=f"History bench {i:03d}", kind=kind,
            endpoint=f"https://hbench-{i:03d}.example.test/v1", default_model="bench-model",
            fallback_models=["bench-small"], priority=(i * 7) % 500, status=status,
            tier="standby" if status == "standby" else "active", enabled=status != "disabled",
            secret_policy="required" if kind == Kind.OPENAI_COMPATIBLE else "none",
        ))
    Provider.objects.bulk_create(rows)
    for p in rows:
        if p.secret_policy == "required":
            set_secret(p, f"sk-hbench-{p.id}-" + "x" * 32, actor=actor)


# One check per provider per step; about one in eight fails (a timeout or a 500).
_INSERT = """
INSERT INTO health_healthcheck
    (provider_id, checked_at, ok, error_code, error_message, latency_ms, http_status, model, deep,
     provider_status, actor_name)
SELECT p.id,
       now() - (%(offset)s + s * %(step)s) * interval '1 second',
       (s + hashtext(p.id)) %% 8 <> 0,
       CASE WHEN (s + hashtext(p.id)) %% 8 <> 0 THEN NULL WHEN s %% 2 = 0 THEN 'timeout' ELSE 'server_error' END,
       CASE WHEN (s + hashtext(p.id)) %% 8 <> 0 THEN '' ELSE 'bench failure' END,
       100 + (s * 37 + abs(hashtext(p.id))) %% 900,
       CASE WHEN (s + hashtext(p.id)) %% 8 <> 0 THEN 200 WHEN s %% 2 = 0 THEN NULL ELSE 500 END,
       'bench-model', false, p.status, 'scheduler'
FROM providers_provider p CROSS JOIN generate_series(0, %(steps)s - 1) AS s
WHERE p.id LIKE 'hbench-%%'
"""


def load_history(*, offset_s: float, step_s: float, steps: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_INSERT, {"offset": offset_s, "step": step_s, "steps": steps})
        cursor.execute("TRUNCATE health_checkcount RESTART IDENTITY")
        cursor.execute("""
            INSERT INTO health_checkcount (provider_id, result, error_code, count)
            SELECT provider_id, CASE WHEN ok THEN 'pass' ELSE 'fail' END, coalesce(error_code, ''), count(*)
            FROM health_healthcheck GROUP BY 1, 2, 3
        """)
        cursor.execute("ANALYZE health_healthcheck")
        cursor.execute("ANALYZE health_checkcount")
        cursor.execute("SELECT count(*) FROM health_healthcheck")
        return cursor.fetchone()[0]


def measure(client, path: str, headers: dict, rounds: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path, headers=headers)  # warm-up
    assert response.status_code == 200, (path, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(path, headers=headers)
    count = len(queries)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times, count


def explain(client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            print("\n" + sql[:300] + ("…" if len(sql) > 300 else ""))
            for (line,) in cursor.fetchall():
                print("   ", line)




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--large", type=int, default=1_000_000, help="history rows of the large run")
    parser.add_argument("--explain", action="store_true", help="print the plans of /metrics' queries at the large size")
    args = parser.parse_args()

    url = database_url()
    problem = ensure_database(url)
    if problem is not None:
        print(f"bench_history_size: skipped, PostgreSQL does not answer at {urlparse(url).hostname}:{urlparse(url).port or 5432} "
              f"({problem}); set DATABASE_URL to a PostgreSQL database to run it")
        return 0
    setup_django(url, Path(tempfile.mkdtemp(prefix="bench-history-")))
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    reset_fleet()
    admin = get_user_model().objects.filter(username="hbench-admin").first()
    if admin is None:
        admin = get_user_model().objects.create_user("hbench-admin", is_staff=True)
        admin.groups.add(Group.objects.get(name="admin"))
    make_fleet(admin)
    client = Client()
    client.force_login(admin)
    headers = {"/metrics": {"Authorization": f"Bearer {TOKEN}"}, "/": {}, "/api/providers": {}}

    steps_small = SMALL // PROVIDERS
    older = (args.large - SMALL) // PROVIDERS
    sizes: dict[str, dict[str, tuple[float, float, int]]] = {}
    name = urlparse(url).path.lstrip("/")
    print(f"{PROVIDERS} providers on PostgreSQL ({name}), Django test client, {args.rounds} timed rounds per endpoint")
    for label, load in (
        ("small", lambda: load_history(offset_s=1, step_s=30, steps=steps_small)),
        # Older rows: from just before the small history back to 30 days.
        ("large", lambda: load_history(offset_s=1 + 30 * steps_small, step_s=(30 * 86400 - 30 * steps_small) / older, steps=older)),
    ):
        started = time.perf_counter()
        rows = load()
        print(f"history: {rows:,} rows (loaded in {time.perf_counter() - started:.1f} s)")
        sizes[label] = {}
        for path, what in ENDPOINTS.items():
            times, queries = measure(client, path, headers[path], args.rounds)
            sizes[label][path] = (min(times), statistics.median(times), queries)
            print(f"  {what:<13} {path:<15} best {min(times):7.1f} ms, median {statistics.median(times):7.1f} ms, {queries} queries")
        sizes[label]["rows"] = rows
    if args.explain:
        explain(client)

    loop_best, loop_median = machine_noise()
    print(f"this machine: a fixed CPU loop's median is {loop_median / loop_best:.2f}x its best ({loop_best:.0f} / {loop_median:.0f} ms)")
    ok = True
    for path, what in ENDPOINTS.items():
        small, large = sizes["small"][path], sizes["large"][path]
        ratio = large[0] / small[0]
        met = ratio <= TARGET_RATIO and large[2] == small[2]
        ok &= met
        print(f"target: {what} best at {sizes['large']['rows']:,} rows / at {sizes['small']['rows']:,} rows <= {TARGET_RATIO:.0f}: "
              f"{ratio:.2f} ({large[0]:.1f} / {small[0]:.1f} ms), queries {small[2]} -> {large[2]} "
              f"({'met' if met else 'NOT met'})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
