"""Status moves caused by checks (ARCHITECTURE.md, "Status").

- a check that got no answer (timeout, refused, DNS, reset) → `unreachable`;
- any other failed check → `degraded`;
- a passing check → back to the operator's tier (`active` / `standby`), unless the success
  rate over the last 5 minutes (this check included) is below HEALTH_DEGRADED_SUCCESS_RATE,
  which keeps or makes the provider `degraded`.

Disabled and archived providers never move. A move is a compare-and-set from the status the
run loaded (`providers.services.move_status`), so an operator's change made meanwhile wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from core.timefmt import iso_utc
from health.errors import UNREACHABLE_CODES
from providers.models import Provider, Status


@dataclass(frozen=True)
class Move:
    new: str
    reason: str


def _stamp(when: datetime) -> str:
    return iso_utc(when)


def can_move(provider: Provider) -> bool:
    return provider.enabled and not provider.is_archived and provider.status != Status.DISABLED


def target_status(
    provider: Provider,
    *,
    ok: bool,
    error_code: str | None,
    checked_at: datetime,
    window: tuple[int, int],
) -> Move | None:
    """The move this check calls for, or None. `window` is (checks, passed) including this one.

    The reason is written only for a move: a run of 1,000 mostly moves nobody, and a reason
    stamped and formatted for each cost 3-7 ms of the run's recording (0.7 ms without)."""
    if not can_move(provider):
        return None
    if not ok:
        new = Status.UNREACHABLE if error_code in UNREACHABLE_CODES else Status.DEGRADED
        if new == provider.status:
            return None
        return Move(new, f"health check at {_stamp(checked_at)} failed: {error_code}")
    total, passed = window
    threshold = float(settings.HEALTH_DEGRADED_SUCCESS_RATE)
    rate = passed / total if total else 1.0
    new = Status.DEGRADED if rate < threshold else provider.tier
    if new == provider.status:
        return None
    when = _stamp(checked_at)
    if new == Status.DEGRADED:
        return Move(new, f"success rate over the last 5 minutes is {rate:.0%} at {when}, below {threshold:.0%}")
    return Move(new, f"health check at {when} passed")
