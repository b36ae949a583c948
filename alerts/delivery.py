"""Sending the outbox: claim, send, record the attempt, retry with backoff (issue: alerts §3).

Never called inside a web request: `manage.py deliver_alerts` and the checker
(`run_checks --watch`, between and after its rounds) call `deliver_round()`.

- Claim: a delivery that is pending and due is taken by a conditional UPDATE that also sets
  `claimed_by` and `claimed_until` (now + the send deadline + ALERT_CLAIM_MARGIN_SECONDS). Of several
  deliverers only the one whose UPDATE changed the row sends it; the others see 0 rows. A
  deliverer that dies mid-send leaves the claim to expire, and the delivery is sent again after
  it (at least once; the body's `delivery_id` lets a receiver drop a repeat).
- Send: a webhook or Slack POST through the probes' HTTP seam (health/http.py: the denied
  networks, no redirects, the deadline, the size cap); an email through Django's backend. A 2xx
  answer is success; anything else is a failed attempt with its HTTP status or error code.
- Record: one `DeliveryAttempt` per try and the delivery's new state, in one transaction, and only
  while this deliverer's claim holds. After ALERT_MAX_ATTEMPTS failed tries it is `failed`;
  before, it is due again after ALERT_RETRY_BASE_SECONDS × 2^(tries − 1), at most
  ALERT_RETRY_MAX_SECONDS.

Secrets: the webhook secret is read from the vault only to compute the signature; no error,
attempt row or log line carries it or a response body.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts import formats
from alerts.models import AlertDelivery, ChannelKind, DeliveryAttempt, DeliveryStatus
from alerts.rules import summarize_flapping
from alerts.services import WEBHOOK_SECRET
from alerts.serving import notice_serving_change
from health import errors
from health.http import ProbeClient
from secrets_vault import api as vault

logger = logging.getLogger("alerts.delivery")

BATCH = 50


@dataclass
class Outcome:
    ok: bool
    http_status: int | None = None
    latency_ms: int | None = None
    error_code: str = ""
    error: str = ""


@dataclass
class RoundReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    summaries: int = 0
    serving_changed: bool = False
    ids: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, "
                f"{self.summaries} flapping summaries queued")


def backoff(attempts: int) -> timedelta:
    seconds = float(settings.ALERT_RETRY_BASE_SECONDS) * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, float(settings.ALERT_RETRY_MAX_SECONDS)))


def new_deliverer_id() -> str:
    return f"deliverer-{secrets.token_hex(6)}"


def due_ids(now, limit: int = BATCH) -> list[int]:
    claim_free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return list(
        AlertDelivery.objects.filter(claim_free, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def claim(delivery_id: int, deliverer: str, now) -> bool:
    until = now + timedelta(milliseconds=settings.ALERT_TIMEOUT_MS, seconds=float(settings.ALERT_CLAIM_MARGIN_SECONDS))
    claim_free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return bool(
        AlertDelivery.objects.filter(claim_free, pk=delivery_id, status=DeliveryStatus.PENDING)
        .update(claimed_by=deliverer, claimed_until=until)
    )


def send(delivery: AlertDelivery) -> Outcome:
    """One try; never raises for what the receiver or the network does."""
    channel = delivery.channel
    started = time.monotonic()
    try:
        if channel.kind == ChannelKind.EMAIL:
            subject, body = formats.email_message(delivery)
            EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, channel.email_to).send()
            return Outcome(True, latency_ms=_ms(started))
        now = timezone.now()
        headers = {"Content-Type": "application/json", "User-Agent": "provider-console-alerts/1.0"}
        if channel.kind == ChannelKind.SLACK:
            body = formats.slack_body(delivery)
        else:
            body = formats.webhook_body(delivery, now)
            secret = vault.reveal_owned_secret(channel.vault_owner, WEBHOOK_SECRET)
            if not secret:
                return Outcome(False, error_code="missing_secret",
                               error="The channel has no webhook secret; set one to sign its alerts.")
            headers[formats.SIGNATURE_HEADER] = formats.signature(secret, int(now.timestamp()), body)
            headers["X-Alert-Delivery"] = str(delivery.pk)
        client = ProbeClient(endpoint=channel.url, timeout_ms=int(settings.ALERT_TIMEOUT_MS), retries=0)
        response = client.request("POST", "", data=body, headers=headers)
        ok = 200 <= response.status_code < 300
        return Outcome(ok, http_status=response.status_code, latency_ms=_ms(started),
                       error_code="" if ok else "http_status",
                       error="" if ok else f"The receiver answered HTTP {response.status_code}.")
    except errors.ProbeFailure as failure:
        return Outcome(False, latency_ms=_ms(started), error_code=failure.code, error=failure.message[:300])
    except vault.VaultError as failure:
        return Outcome(False, error_code="vault_error", error=str(failure)[:300])
    except OSError as failure:  # the email backend's connection
        return Outcome(False, latency_ms=_ms(started), error_code="email_error",
                       error=f"The mail server could not be reached ({type(failure).__name__}).")


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def record(delivery: AlertDelivery, outcome: Outcome, deliverer: str) -> str | None:
    """Write the attempt and the delivery's new state while our claim holds; the new status."""
    now = timezone.now()
    with transaction.atomic():
        current = (AlertDelivery.objects.select_for_update()
                   .filter(pk=delivery.pk, claimed_by=deliverer, status=DeliveryStatus.PENDING).first())
        if current is None:
            logger.warning("delivery %s: the claim was lost before its attempt was recorded", delivery.pk)
            return None
        number = current.attempts + 1
        DeliveryAttempt.objects.create(
            delivery=current, number=number, attempted_at=now, ok=outcome.ok, http_status=outcome.http_status,
            latency_ms=outcome.latency_ms, error_code=outcome.error_code, error=outcome.error[:300],
        )
        current.attempts = number
        current.last_http_status = outcome.http_status
        current.last_error = "" if outcome.ok else f"{outcome.error_code}: {outcome.error}"[:300]
        current.claimed_by, current.claimed_until = "", None
        if outcome.ok:
            current.status, current.sent_at = DeliveryStatus.SENT, now
        elif number >= int(settings.ALERT_MAX_ATTEMPTS):
            current.status = DeliveryStatus.FAILED
        else:
            current.next_attempt_at = now + backoff(number)
        current.save(update_fields=["attempts", "last_http_status", "last_error", "claimed_by", "claimed_until",
                                    "status", "sent_at", "next_attempt_at"])
    return current.status


def deliver_round(deliverer: str | None = None, *, limit: int = BATCH) -> RoundReport:
    """Notice a serving change, queue flapping summaries, and send what is due (at most `limit`)."""
    deliverer = deliverer or new_deliverer_id()
    report = RoundReport()
    report.serving_changed = notice_serving_change()
    report.summaries = summarize_flapping()
    now = timezone.now()
    for delivery_id in due_ids(now, limit):
        if not claim(delivery_id, deliverer, timezone.now()):
            continue  # another deliverer has it
        delivery = AlertDelivery.objects.select_related("channel").filter(pk=delivery_id).first()
        if delivery is None:
            continue  # its channel was deleted meanwhile, and its history with it
        outcome = send(delivery)
        status = record(delivery, outcome, deliverer)
        report.ids.append(delivery_id)
        if status == DeliveryStatus.SENT:
            report.sent += 1
        elif status == DeliveryStatus.FAILED:
            report.failed += 1
            logger.warning("alert %s to %s failed after %s attempts: %s", delivery.alert, delivery.channel_id,
                           delivery.attempts + 1, outcome.error_code)
        elif status == DeliveryStatus.PENDING:
            report.retrying += 1
    return report


_last_checker_round = 0.0


def deliver_from_checker(sender, holder: str, **kwargs) -> None:
    """`checker_idle`'s receiver: a deliver round at most every ALERT_POLL_SECONDS."""
    global _last_checker_round
    if time.monotonic() - _last_checker_round < float(settings.ALERT_POLL_SECONDS):
        return
    _last_checker_round = time.monotonic()
    report = deliver_round(f"checker-{holder}")
    if report.ids or report.summaries or report.serving_changed:
        logger.info("checker %s delivered alerts: %s", holder, report)
