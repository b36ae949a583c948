"""The alerts API's paths; config/urls.py includes them under "api/"."""

from django.urls import path

from alerts.api import AlertChannelViewSet, ChannelDeliveriesView, ChannelSecretView, ChannelTestView
from console.api_urls import NoSlashRouter

router = NoSlashRouter()
router.register("alert-channels", AlertChannelViewSet, basename="api-alert-channel")

urlpatterns = [
    path("alert-channels/<str:id>/secret", ChannelSecretView.as_view(), name="alert-channel-secret"),
    path("alert-channels/<str:id>/test", ChannelTestView.as_view(), name="alert-channel-test"),
    path("alert-channels/<str:id>/deliveries", ChannelDeliveriesView.as_view(), name="alert-channel-deliveries"),
    *router.urls,
]
