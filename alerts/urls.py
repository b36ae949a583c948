"""The alert pages (alerts/pages.py). A new channel's form sits outside /alerts/<id>/, as
/new-provider/ does beside /providers/<id>/, so no channel id is shadowed by a page."""

from django.urls import path

from alerts import pages

urlpatterns = [
    path("alerts/", pages.alerts_page, name="alerts-page"),
    path("new-alert-channel/", pages.create_channel, name="alert-channel-create"),
    path("alerts/<str:channel_id>/", pages.channel_page, name="alert-channel"),
    path("alerts/<str:channel_id>/edit/", pages.edit_channel, name="alert-channel-edit"),
    path("alerts/<str:channel_id>/enabled/", pages.set_enabled, name="alert-channel-enabled"),
    path("alerts/<str:channel_id>/test/", pages.send_test, name="alert-channel-test"),
    path("alerts/<str:channel_id>/delete/", pages.delete_channel, name="alert-channel-delete"),
    path("alerts/<str:channel_id>/secret/", pages.change_secret, name="alert-channel-secret"),
]
