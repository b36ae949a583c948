"""The delivery history the alert pages show: which deliveries, in what order, with what filters.

A delivery's shown status has four values: `failed`, `retrying` (pending after a failed try),
`pending` (not tried yet) and `sent`. The history across channels puts failures first (failed,
then retrying, then the rest), newest first within each; a channel's own history is newest
first, with failures first on request. Both are worked out in SQL, so a page of history costs
the same few queries at any size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Case, CharField, IntegerField, Prefetch, Q, QuerySet, Value, When

from alerts.models import AlertChannel, AlertDelivery, DeliveryAttempt, DeliveryStatus

SHOWN_STATUSES = ("failed", "retrying", "pending", "sent")
STATUS_FILTERS = {
    "failed": Q(status=DeliveryStatus.FAILED),
    "retrying": Q(status=DeliveryStatus.PENDING, attempts__gt=0),
    "pending": Q(status=DeliveryStatus.PENDING, attempts=0),
    "sent": Q(status=DeliveryStatus.SENT),
}
ALL_PAGE_SIZE = 25
CHANNEL_PAGE_SIZE = 20


def with_shown_status(deliveries: QuerySet) -> QuerySet:
    return deliveries.annotate(
        shown_status=Case(
            When(STATUS_FILTERS["failed"], then=Value("failed")),
            When(STATUS_FILTERS["retrying"], then=Value("retrying")),
            When(STATUS_FILTERS["pending"], then=Value("pending")),
            default=Value("sent"),
            output_field=CharField(),
        ),
        failure_rank=Case(
            When(STATUS_FILTERS["failed"], then=Value(0)),
            When(STATUS_FILTERS["retrying"], then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        ),
    )


@dataclass
class HistoryQuery:
    """The history's filters as read from the URL, and what was wrong with them."""

    channel: str = ""
    status: str = ""
    failures_first: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.channel or self.status)


def read_query(params, *, channel_ids: set[str] | None = None) -> HistoryQuery:
    """`channel`, `status` and `order` from the query string; an unknown value is an error
    naming its field (the page answers 400 with it next to the filter)."""
    query = HistoryQuery()
    status = params.get("status", "").strip()
    if status and status not in SHOWN_STATUSES:
        query.errors["status"] = f"Unknown status {status[:40]!r}; one of: {', '.join(SHOWN_STATUSES)}."
    else:
        query.status = status
    if channel_ids is not None:
        channel = params.get("channel", "").strip()
        if channel and channel not in channel_ids:
            query.errors["channel"] = f"No channel {channel[:63]!r}."
        else:
            query.channel = channel
    order = params.get("order", "").strip()
    if order and order not in ("newest", "failures"):
        query.errors["order"] = "One of: newest, failures."
    query.failures_first = order == "failures"
    return query


def history_page(query: HistoryQuery, number: Any, *, channel: AlertChannel | None = None) -> Page:
    """One page of deliveries: across channels (failures first) or one channel's (newest first,
    or failures first when asked), each with its channel and, for a channel, its attempts."""
    deliveries = with_shown_status(AlertDelivery.objects.all())
    if channel is not None:
        deliveries = deliveries.filter(channel=channel).prefetch_related(
            Prefetch("attempt_rows", queryset=DeliveryAttempt.objects.order_by("-number"), to_attr="attempt_list")
        )
        order = ("failure_rank", "-id") if query.failures_first else ("-id",)
        size = CHANNEL_PAGE_SIZE
    else:
        deliveries = deliveries.select_related("channel")
        if query.channel:
            deliveries = deliveries.filter(channel_id=query.channel)
        order = ("failure_rank", "-id")
        size = ALL_PAGE_SIZE
    if query.status:
        deliveries = deliveries.filter(STATUS_FILTERS[query.status])
    deliveries = deliveries.defer("event").order_by(*order)
    return Paginator(deliveries, size).get_page(number)
