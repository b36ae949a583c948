"""Writing a run's check rows (`HealthCheck`): one multi-row INSERT per chunk, ids returned.

Django's `bulk_create` compiles every value of every row through the field machinery: for the
1,000 rows of a Run all that was 60-70 ms, as much as probing a third of them, and a Run all
writes them while its probes still run on the same interpreter. The rows' values are plain
(strings, integers, booleans, NULLs; a choices member is written as its value) except
`checked_at`, which the database backend adapts as Django would (`adapt_datetimefield_value`: UTC text on SQLite, the aware datetime on
PostgreSQL), so the statement is built here, once per chunk, with the backend's own quoting,
batch size and RETURNING clause. A backend that cannot return the ids of a multi-row insert
gets `bulk_create`.
"""

from __future__ import annotations

from enum import Enum

from django.db import connections

from health.models import HealthCheck


def insert_checks(rows: list[HealthCheck]) -> list[HealthCheck]:
    """Insert `rows` (unsaved) and set their ids; returns them, in order."""
    if not rows:
        return rows
    connection = connections[HealthCheck.objects.db]
    if not connection.features.can_return_rows_from_bulk_insert:
        return HealthCheck.objects.bulk_create(rows)
    meta = HealthCheck._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    attnames = [field.attname for field in fields]
    at = attnames.index("checked_at")
    adapt_time = connection.ops.adapt_datetimefield_value
    quote = connection.ops.quote_name
    returning, returning_params = connection.ops.return_insert_columns([meta.pk])
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) VALUES "
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    batch = max(1, connection.ops.bulk_batch_size(fields, rows))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params: list = []
            for row in chunk:
                values = [getattr(row, name) for name in attnames]
                values = [value.value if isinstance(value, Enum) else value for value in values]
                values[at] = adapt_time(values[at])
                params.extend(values)
            cursor.execute(head + ", ".join([one_row] * len(chunk)) + " " + returning, [*params, *returning_params])
            for row, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                row.pk = pk
                row._state.adding = False
                row._state.db = connection.alias
    return rows
