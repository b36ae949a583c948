"""Pages: the provider list (with the routing chain on the same screen) and a provider page."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_vary_headers
from django.views.generic import TemplateView

from accounts.permissions import ALLOW, object_access, require_page_permission, viewable
from audit.models import AuditEvent
from console.chaincache import cached_chain
from console.eventrows import event_rows
from console.filters import ProviderFilter
from console.pageurls import ProviderUrls
from console.readmodel import ProviderContext, Visibility, current_chain, routing_intent_for
from console.views.detail import detail_extras
from console.views.events import VIEW_PERMISSION as EVENTS_PERMISSION
from providers.access import metadata_masker
from providers.models import Kind, Provider, Status


class ProviderListPage(LoginRequiredMixin, TemplateView):
    """Every provider and the routing chain with the global view permission; a user with
    delegated providers sees their cards only (the chain spans providers they may not see);
    anyone else gets 403, as the API's list.

    The chain, the count of matches and the cards are the page's live region
    (`console/_list_region.html`). The same URL asked with the header `X-Console-Fragment:
    list` answers that region alone, with the same access rules, filters and status;
    static/js/provider_list.js re-fetches it when an audit event says the chain or a card may
    have changed (docs/console.md).
    """

    template_name = "console/provider_list.html"
    fragment_template_name = "console/_list_region.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        # Read before the providers: an event committed after this read is streamed or
        # refilled (after its id), so the live page never misses a change made meanwhile.
        events = None if self.is_fragment() else recent_events(user)
        chain, providers, provider_context = current_chain()
        # One numbering everywhere: cards follow the chain's positions; providers outside the
        # chain (disabled) come after it, by priority.
        position = {node.provider_id: node.position for node in chain.nodes}
        live = sorted(
            (p for p in providers if p.archived_at is None),
            key=lambda p: (position.get(p.id, len(position) + 1), p.priority, p.name),
        )
        show_chain = user.has_perm("providers.view_provider")
        if not show_chain:
            delegated = set(viewable(user, Provider.objects.all()).values_list("id", flat=True))
            if not delegated:
                raise PermissionDenied("You have no role and no provider is delegated to you.")
            live = [p for p in live if p.id in delegated]
        total = len(live)
        live, context["filters"] = self._filtered(live)
        context["chain"] = chain
        context["show_chain"] = show_chain
        # When each chain node was last checked: a skipped or degraded node says how long ago.
        context["chain_checked"] = {
            node.provider_id: provider_context.health_of(node.provider_id)["last_checked_at"] for node in chain.nodes
        }
        context["total"] = total
        context["filter_choices"] = {
            "kind": Kind.choices,
            "status": Status.choices,
            "secret": [("required", "required"), ("missing", "missing"), ("present", "present")],
            "health": [("ok", "ok"), ("degraded", "degraded"), ("unreachable", "unreachable"), ("unknown", "never checked")],
            "ordering": LIST_ORDERINGS,
        }
        # Links and permissions worked out once, not per card (`{% url %}` and `perms` cost
        # tens of microseconds each; at 1,000 cards they were most of the page's time).
        urls = ProviderUrls()
        may_view = Visibility(user)
        context["chain_links"] = {node.provider_id: urls.detail(node.provider_id) for node in chain.nodes}
        context["can"] = {
            "change": user.has_perm("providers.change_provider"),
            "test": user.has_perm("providers.test_provider"),
            "secrets": user.has_perm("secrets_vault.manage_secrets"),
        }
        context["cards"] = [
            {
                "provider": p,
                "secret": provider_context.secret(p.id),
                "health": provider_context.health_of(p.id),
                "intent": routing_intent_for(chain, p, may_view),
                "urls": urls(p.id),
            }
            for p in live
        ]
        context["live_region_id"] = LIVE_REGION_ID
        context["recent_events"] = events
        return context


    def _filtered(self, live: list[Provider]) -> tuple[list[Provider], dict]:
        """The API's filters and orderings (`console.filters.ProviderFilter`), read from the URL so
        a filtered view can be bookmarked. Without an ordering the cards keep the chain's order."""
        params = {key: value for key, value in self.request.GET.items() if key in LIST_FILTERS and value.strip()}
        form = {"params": params, "errors": {}, "active": bool(params)}
        if not params:
            return live, form
        filterset = ProviderFilter(params, queryset=Provider.objects.all())
        if not filterset.is_valid():
            form["errors"] = {field: " ".join(messages) for field, messages in filterset.errors.items()}
            return live, form
        matched = list(filterset.qs.values_list("id", flat=True))
        rank = {provider_id: index for index, provider_id in enumerate(matched)}
        kept = [p for p in live if p.id in rank]
        if "ordering" in params:
            kept.sort(key=lambda p: rank[p.id])
        return kept, form

    def is_fragment(self) -> bool:
        return self.request.headers.get(FRAGMENT_HEADER, "").strip().lower() == FRAGMENT_NAME

    def get_template_names(self):
        return [self.fragment_template_name] if self.is_fragment() else [self.template_name]

    def render_to_response(self, context, **response_kwargs):
        if context["filters"]["errors"]:
            response_kwargs.setdefault("status", 400)
        response = super().render_to_response(context, **response_kwargs)
        # One URL, two answers: a cache (there is none: no-store) must never swap them.
        patch_vary_headers(response, (FRAGMENT_HEADER,))
        return response


# The live region: its element id, and the header that asks for it alone.
LIVE_REGION_ID = "provider-list-live"
FRAGMENT_HEADER = "X-Console-Fragment"
FRAGMENT_NAME = "list"
RECENT_EVENTS = 10


def recent_events(user) -> dict | None:
    """The last events for the list's "Recent events" panel, masked as the events page masks
    them; None for a user who may not read the audit log (the panel is left out)."""
    if not user.has_perm(EVENTS_PERMISSION):
        return None
    rows = list(AuditEvent.objects.order_by("-id")[:RECENT_EVENTS])
    return {
        "rows": event_rows(rows, user),
        # Where the live stream starts: anything newer is fetched (`after_id`) or streamed.
        "latest_id": rows[0].id if rows else 0,
        "size": RECENT_EVENTS,
    }


# What the list page reads from its URL (the API's list filters; archived providers have a page).
LIST_FILTERS = ("search", "kind", "status", "secret", "health", "ordering")
LIST_ORDERINGS = (
    ("", "chain position"),
    ("priority", "priority"),
    ("last_checked", "last checked (oldest first)"),
    ("-last_checked", "last checked (newest first)"),
    ("avg_latency", "avg latency (fastest first)"),
    ("-avg_latency", "avg latency (slowest first)"),
    ("-failures", "failures (most first)"),
)


class ProviderDetailPage(LoginRequiredMixin, TemplateView):
    """Readable with the global view permission or a delegated object permission (as the API)."""

    template_name = "console/provider_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        provider = get_object_or_404(Provider, pk=self.kwargs["provider_id"])
        require_page_permission(user, "providers.view_provider", provider)
        # The chain as cached for its version; the vault's and health's part of this provider only.
        chain, provider_context = cached_chain(), ProviderContext([provider.id])
        context.update(
            provider=provider,
            secret=provider_context.secret(provider.id),
            health=provider_context.health_of(provider.id),
            intent=routing_intent_for(chain, provider, Visibility(user)),
            show_metadata=not metadata_masker(user)(provider),
            can_test=object_access(user, "providers.test_provider", provider) == ALLOW,
        )
        # The chart, the check history and the events, paginated (console/views/detail.py).
        context.update(detail_extras(self.request, provider))
        return context
