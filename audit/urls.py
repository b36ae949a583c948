from django.urls import path

from audit.api import EventListView

urlpatterns = [path("events", EventListView.as_view(), name="event-list")]
