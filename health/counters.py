"""Cumulative check counts per provider, result and error code (`CheckCount`).

`count_checks(rows)` is called by the runner in the transaction that writes the check rows, so
a count and its rows commit or roll back together. It is one statement for the whole batch:

    INSERT … VALUES (…), (…) ON CONFLICT (provider_id, result, error_code)
    DO UPDATE SET count = count + EXCLUDED.count

Django's `bulk_create(update_conflicts=True)` cannot say this (it sets `count = EXCLUDED.count`,
and F() expressions are not allowed there), and a read-then-write would lose increments when two
runs record at once. On PostgreSQL the upsert locks each row it adds to, so a concurrent run
waits and then adds on top; the rows are listed in key order so two runs take the locks in the
same order and cannot deadlock each other. SQLite (3.24+) has the same syntax and one writer.

`counts_for(provider_ids)` reads them back in one query: the source of the Prometheus counter
`provider_checks_total`, which never goes down when the history is purged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db import connections

from health.models import CheckCount, HealthCheck

BATCH_KEYS = 2000  # 4 parameters a key: well under SQLite's 32,766


def _key(row: HealthCheck) -> tuple[str, str, str]:
    return row.provider_id, row.result_status, row.error_code or ""


def count_checks(rows: Iterable[HealthCheck]) -> None:
    """Add the checks in `rows` to their providers' counts (one statement; nothing for no rows)."""
    totals = Counter(_key(row) for row in rows)
    if not totals:
        return
    connection = connections[CheckCount.objects.db]
    quote = connection.ops.quote_name
    table = quote(CheckCount._meta.db_table)
    key_columns = ", ".join(quote(c) for c in ("provider_id", "result", "error_code"))
    count = quote("count")
    keys = sorted(totals)
    with connection.cursor() as cursor:
        # One statement per batch; a batch of more than BATCH_KEYS keys (SQLite's parameter
        # limit) is written in slices, still in key order.
        for start in range(0, len(keys), BATCH_KEYS):
            chunk = keys[start : start + BATCH_KEYS]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            params: list = []
            for key in chunk:
                params.extend((*key, totals[key]))
            cursor.execute(
                f"INSERT INTO {table} ({key_columns}, {count}) VALUES {values} "
                f"ON CONFLICT ({key_columns}) DO UPDATE SET {count} = {table}.{count} + EXCLUDED.{count}",
                params,
            )


def counts_for(provider_ids: Iterable[str] | None = None) -> list[tuple[str, str, str, int]]:
    """`(provider_id, result, error_code, count)` rows, ordered; every provider's when `provider_ids`
    is None (one query either way)."""
    rows = CheckCount.objects.order_by("provider_id", "result", "error_code")
    if provider_ids is not None:
        rows = rows.filter(provider_id__in=list(provider_ids))
    return list(rows.values_list("provider_id", "result", "error_code", "count"))
