"""`checks.failed`: one audit event for a Run all checks that found failures.

Written by each Run all (the console's button, `POST /api/providers/test-all`, `run_checks` and
its checker's rounds) after the run's checks are recorded, in a transaction of its own. It is
what the alert `checks.failed` answers (alerts/rules.py); the per-provider `provider.tested`
rows stay the record of each check. A run where everything passed writes nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.events import record_event
from core.actors import actor_name
from health.runner import RunResult

NAMED_IN_SUMMARY = 5
LISTED_IN_PAYLOAD = 100


def record_failed_run(result: RunResult, *, actor: Any = None, run_id: str | None = None) -> None:
    failed = [check for check in result.checks if not check.ok]
    if not failed:
        return
    ids = [check.provider_id for check in failed]
    named = ", ".join(ids[:NAMED_IN_SUMMARY]) + (f" and {len(ids) - NAMED_IN_SUMMARY} more" if len(ids) > NAMED_IN_SUMMARY else "")
    with transaction.atomic():
        record_event(
            "checks.failed",
            actor=actor,
            summary=f"Run all checks by {actor_name(actor)}: {len(failed)} of {result.checked} failed ({named})",
            payload={
                "run_id": run_id,
                "checked": result.checked,
                "failed": len(failed),
                "failed_providers": ids[:LISTED_IN_PAYLOAD],
                "errors": {check.provider_id: check.error_code for check in failed[:LISTED_IN_PAYLOAD]},
            },
        )
