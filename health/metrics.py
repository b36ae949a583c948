"""Health metrics computed in the database for many providers at once (spec §3.3).

CONTRACT (used by providers/; keep these signatures):

- EMPTY_HEALTH: all health fields None (never checked).
- for_providers(provider_ids) -> dict[str, dict]   (a fixed number of queries for any count)
    each dict: {"latency_ms_last", "latency_ms_avg_5m", "latency_ms_p95_5m", "success_rate_5m",
                "failure_count_last_1m", "last_checked_at", "last_error_code",
                "last_error_message"}
- annotate_for_list(queryset) -> queryset of providers annotated with
    `health_last_checked_at`, `health_latency_avg_5m`, `health_failures_1m`
    (for the list's ordering `last_checked`, `avg_latency`, `failures` and filter `health`).
"""
