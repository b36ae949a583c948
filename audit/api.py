"""`GET /api/events`: the audit log, newest first; masked payloads for anyone without change rights."""

from __future__ import annotations

import django_filters
from rest_framework import generics, serializers

from audit.events import serialize_event
from audit.models import AuditEvent
from config.api import NoStoreMixin


def sees_payloads(user) -> bool:
    """Only admins read payload values; viewers get the summary and masked values (spec §5.2)."""
    return user.has_perm("providers.change_provider")


class EventFilter(django_filters.FilterSet):
    provider_id = django_filters.CharFilter()
    event = django_filters.MultipleChoiceFilter(choices=AuditEvent.Event.choices)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = AuditEvent
        fields = ["provider_id", "event", "since"]


class EventSerializer(serializers.Serializer):
    """The event row of API.md; the fields are declared for the schema, the values come from
    `serialize_event`, the same function the live stream uses."""

    id = serializers.IntegerField()
    event = serializers.ChoiceField(choices=AuditEvent.Event.choices)
    provider_id = serializers.CharField(allow_null=True)
    actor = serializers.CharField()
    summary = serializers.CharField()
    payload = serializers.JSONField()
    masked = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    request_id = serializers.CharField(allow_null=True)

    def to_representation(self, instance: AuditEvent):
        return serialize_event(instance, masked=self.context.get("masked", True))


class EventListView(NoStoreMixin, generics.ListAPIView):
    queryset = AuditEvent.objects.order_by("-id")
    serializer_class = EventSerializer
    filterset_class = EventFilter

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["masked"] = not sees_payloads(self.request.user)
        return context
