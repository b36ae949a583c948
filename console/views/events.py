"""`/events/`: the audit log (spec §5.2) with its filters in the URL, newest first, paginated,
and new rows arriving live (static/js/events_page.js over /ws/events/).

Who may read it and what they see are the API's rules for `GET /api/events`: a user holding
`audit.view_auditevent` (both roles); payload values masked for anyone who may not change
providers. The filters are the API's (`audit.api.EventFilter`: `event`, `provider_id`, `since`)
plus `actor` and `until`, so a bad value gets the API's reason, shown next to its field.
"""

from __future__ import annotations

import django_filters
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.views.generic import TemplateView

from audit.api import EventFilter, SinceFilter
from audit.models import AuditEvent
from console.eventrows import event_rows
from core.timefmt import iso_utc
from providers.models import Provider

PAGE_SIZE = 50
VIEW_PERMISSION = "audit.view_auditevent"


class EventPageFilter(EventFilter):
    actor = django_filters.CharFilter(field_name="actor_name", max_length=150, label="Actor")
    until = SinceFilter(field_name="created_at", lookup_expr="lt", label="Until (UTC)")

    class Meta(EventFilter.Meta):
        fields = ["event", "provider_id", "actor", "since", "until"]


FILTER_FIELDS = ("event", "provider_id", "actor", "since", "until")


def filter_data(query) -> dict:
    """The filter values of the query string; empty ones (a form's "any") are left out."""
    data = query.copy()
    for key in list(data.keys()):
        values = [v for v in data.getlist(key) if v.strip()]
        if key not in FILTER_FIELDS or not values:
            del data[key]
        else:
            data.setlist(key, values)
    return data


class EventsPage(LoginRequiredMixin, TemplateView):
    template_name = "console/events.html"

    def get(self, request, *args, **kwargs):
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied("The audit log is open to the admin and viewer roles; your account has neither.")
        data = filter_data(request.GET)
        filterset = EventPageFilter(data, queryset=AuditEvent.objects.order_by("-id"))
        valid = filterset.is_valid()
        context = self.get_context_data(filterset=filterset, valid=valid, **kwargs)
        return self.render_to_response(context, status=200 if valid else 400)

    def get_context_data(self, *, filterset, valid, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        page = None
        if valid:
            page = Paginator(filterset.qs, PAGE_SIZE).get_page(self.request.GET.get("page"))
        cleaned = filterset.form.cleaned_data if valid else {}
        context.update(
            form=filterset.form,
            page=page,
            rows=event_rows(list(page.object_list), user) if page else [],
            event_types=AuditEvent.Event.values,
            provider_ids=list(Provider.objects.order_by("id").values_list("id", flat=True)),
            # Where the live stream starts: anything newer is fetched (`after_id`) or streamed.
            latest_id=AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0,
            live=page is not None and page.number == 1,
            live_filter={
                "events": " ".join(cleaned.get("event") or []),
                "provider": cleaned.get("provider_id") or "",
                "actor": cleaned.get("actor") or "",
                "since": iso_utc(cleaned.get("since")) or "",
                "until": iso_utc(cleaned.get("until")) or "",
            },
            filtered=any(cleaned.get(name) for name in FILTER_FIELDS),
        )
        return context
