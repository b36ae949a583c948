"""The API root at /api/: where the browsable API starts and what an integrator can reach."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView


class ApiRootView(APIView):
    """Providers, the routing chain and the audit log; the schema and its Swagger UI."""

    permission_classes = [IsAuthenticated]

    @extend_schema(exclude=True)
    def get(self, request, format=None):
        def link(name: str) -> str:
            return reverse(name, request=request, format=format)

        return Response(
            {
                "providers": link("api-provider-list"),
                "routing-chain": link("routing-chain"),
                "routing-chain-preview": link("routing-chain-preview"),
                "test-all": link("provider-test-all"),
                "events": link("event-list"),
                "schema": link("schema"),
                "docs": link("api-docs"),
            }
        )
