from django.urls import path
from rest_framework.routers import SimpleRouter

from console.api import ProviderViewSet, RoutingChainView, RoutingPreviewView


class NoSlashRouter(SimpleRouter):
    """API.md's paths have no trailing slash: /api/providers/{id}."""

    def __init__(self):
        super().__init__(trailing_slash="")


router = NoSlashRouter()
router.register("providers", ProviderViewSet, basename="api-provider")

urlpatterns = [
    path("routing-chain", RoutingChainView.as_view(), name="routing-chain"),
    path("routing-chain/preview", RoutingPreviewView.as_view(), name="routing-chain-preview"),
    *router.urls,
]
