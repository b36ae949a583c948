"""The alert pages (alerts/pages.py). A new channel's form sits outside /alerts/<id>/, as
/new-provider/ does beside /providers/<id>/, so no channel id is shadowed by a page."""

from django.urls import path

from alerts import pages

urlpatterns = [
    path("alerts/", pages.alerts_page, name="alerts-page"),
    path("new-alert-channel/", pages.create_channel, name="alerts-channel-create"),
    path("alerts/<str:channel_id>/", pages.channel_page, name="alerts-channel"),
    path("alerts/<str:channel_id>/edit/", pages.edit_channel, name="alerts-channel-edit"),
    path("alerts/<str:channel_id>/enabled/", pages.set_enabled, name="alerts-channel-enabled"),
    path("alerts/<str:channel_id>/test/", pages.send_test, name="alerts-channel-test"),
    path("alerts/<str:channel_id>/delete/", pages.delete_channel, name="alerts-channel-delete"),
    path("alerts/<str:channel_id>/secret/", pages.change_secret, name="alerts-channel-secret"),
]
