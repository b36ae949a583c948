"""Filters and ordering of `GET /api/providers` (API.md, spec §4.1), secret status and health
included: they read the vault's and health's tables, so they belong to the console's read model."""

from __future__ import annotations

import django_filters
from django.db.models import F, Q

from health import metrics
from providers.models import HEALTHY_STATUSES, Kind, Provider, SecretPolicy, Status
from secrets_vault import api as vault

# ordering value → the column it sorts by (health columns are annotated on demand)
ORDERING = {
    "priority": "priority",
    "name": "name",
    "last_checked": "health_last_checked_at",
    "avg_latency": "health_latency_avg_5m",
    "failures": "health_failures_1m",
}
HEALTH_ORDERINGS = {"last_checked", "avg_latency", "failures"}


class ProviderFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    status = django_filters.ChoiceFilter(choices=Status.choices)
    secret = django_filters.ChoiceFilter(
        choices=[("required", "required"), ("missing", "missing"), ("present", "present")],
        method="filter_secret",
    )
    health = django_filters.ChoiceFilter(
        choices=[(c, c) for c in ("ok", "degraded", "unreachable", "unknown")], method="filter_health"
    )
    search = django_filters.CharFilter(method="filter_search", max_length=200)
    include_archived = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_archived"
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(f"{sign}{name}", f"{sign}{name}") for name in ORDERING for sign in ("", "-")],
        method="filter_ordering",
    )

    class Meta:
        model = Provider
        fields = ["kind", "status"]

    @property
    def qs(self):
        queryset = super().qs
        if self.form.cleaned_data.get("include_archived") != "true":
            queryset = queryset.filter(archived_at__isnull=True)
        if not self.form.cleaned_data.get("ordering"):
            queryset = queryset.order_by("priority", "name")
        return queryset

    def filter_secret(self, queryset, name, value):
        present = Q(id__in=vault.provider_ids_with_secret())
        if value == "required":
            return queryset.filter(secret_policy=SecretPolicy.REQUIRED)
        if value == "missing":
            return queryset.filter(secret_policy=SecretPolicy.REQUIRED).exclude(present)
        return queryset.filter(present)

    def filter_health(self, queryset, name, value):
        queryset = metrics.annotate_for_list(queryset)
        if value == "unknown":
            return queryset.filter(health_last_checked_at__isnull=True)
        checked = queryset.filter(health_last_checked_at__isnull=False)
        if value == "ok":
            return checked.filter(status__in=HEALTHY_STATUSES)
        return checked.filter(status=value)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(id__icontains=value)
            | Q(name__icontains=value)
            | Q(display_name__icontains=value)
            | Q(endpoint__icontains=value)
            | Q(default_model__icontains=value)
        )

    def filter_archived(self, queryset, name, value):
        return queryset  # applied in `qs`, where the default (hide archived) also lives

    def filter_ordering(self, queryset, name, value):
        descending = value.startswith("-")
        key = value.lstrip("-")
        if key in HEALTH_ORDERINGS and "health_last_checked_at" not in queryset.query.annotations:
            queryset = metrics.annotate_for_list(queryset)
        column = F(ORDERING[key])
        # Providers never checked sort last either way.
        expression = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
        return queryset.order_by(expression, "priority", "name")
